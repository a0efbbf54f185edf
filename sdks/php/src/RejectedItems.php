<?php

declare(strict_types=1);

namespace Salesmachine;

/**
 * A 201 that names items the server refused while storing the rest of the batch.
 */
final class RejectedItems extends Error
{
    /**
     * @param list<array<string, mixed>> $rejected entries {index, code, message}
     */
    public function __construct(public readonly array $rejected)
    {
        $parts = array_map(
            static fn (array $r): string => 'item ' . ($r['index'] ?? '?') . ': ' . ($r['message'] ?? $r['code'] ?? 'rejected'),
            $rejected,
        );
        parent::__construct(implode('; ', $parts));
    }

    public function status(): int
    {
        return 201;
    }
}
