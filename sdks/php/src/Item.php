<?php

declare(strict_types=1);

namespace Salesmachine;

/**
 * A message as queued: the array (for on_error) and its JSON, encoded once at the call.
 */
final class Item
{
    /** @param array<string, mixed> $message */
    public function __construct(public readonly array $message, public readonly string $json)
    {
    }
}
