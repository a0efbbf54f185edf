<?php

declare(strict_types=1);

namespace Salesmachine;

/**
 * The server answered with an error status.
 */
final class ApiError extends Error
{
    /**
     * @param array<string, mixed> $body
     */
    public function __construct(
        public readonly int $httpStatus,
        public readonly string $errorCode,
        string $message,
        public readonly ?float $retryAfter = null,
        public readonly array $body = [],
    ) {
        parent::__construct("{$httpStatus} {$errorCode}: {$message}");
    }

    public function status(): int
    {
        return $this->httpStatus;
    }

    /**
     * 408, 429 and 5xx are the server's (or a proxy's) passing trouble; any other 4xx says
     * the batch itself is wrong, and sending it again would get the same answer.
     */
    public function retryable(): bool
    {
        return $this->httpStatus === 408 || $this->httpStatus === 429 || $this->httpStatus >= 500;
    }
}
