<?php

declare(strict_types=1);

namespace Salesmachine;

/**
 * No answer: refused, reset, timed out, cut short. The batch may or may not have been
 * stored, so it is sent again with the same messageIds and the server drops the repeats.
 */
final class NetworkError extends Error
{
    public function retryable(): bool
    {
        return true;
    }
}
