<?php

declare(strict_types=1);

namespace Salesmachine;

/**
 * A batch that could not be stored. The sender turns these into retries, then into on_error.
 */
class Error extends \RuntimeException
{
    /** The HTTP status; -1 when no answer came. */
    public function status(): int
    {
        return -1;
    }

    public function retryable(): bool
    {
        return false;
    }
}
