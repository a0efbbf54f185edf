<?php

declare(strict_types=1);

namespace Salesmachine;

/**
 * A success answer (2xx) and its JSON body ([] when it had none).
 */
final class Answer
{
    /** @param array<string, mixed> $body */
    public function __construct(public readonly int $status, public readonly array $body = [])
    {
    }

    /**
     * Items the server refused while storing the rest (docs/wire.md, Answers).
     *
     * @return list<array<string, mixed>>
     */
    public function rejected(): array
    {
        $rejected = $this->body['rejected'] ?? null;
        return is_array($rejected) ? array_values(array_filter($rejected, 'is_array')) : [];
    }
}
