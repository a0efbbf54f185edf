<?php

declare(strict_types=1);

namespace Salesmachine;

/**
 * Exponential backoff with jitter: retry n waits between half and all of
 * `min(cap, base * 2**n)` seconds, or what the server's Retry-After asks if that is longer.
 *
 * Half fixed, half random ("equal jitter") keeps clients that failed together from coming
 * back together, without ever retrying almost at once the way full jitter can.
 */
final class Backoff
{
    public function __construct(public readonly float $base, public readonly float $cap)
    {
    }

    public function delay(int $retry, ?float $retryAfter = null): float
    {
        $ceiling = min($this->cap, $this->base * (2 ** min($retry, 32)));
        $jittered = $ceiling / 2 + (mt_rand() / mt_getrandmax()) * ($ceiling / 2);
        return max($jittered, $retryAfter ?? 0.0);
    }
}
