<?php

declare(strict_types=1);

namespace Salesmachine\Tests\Support;

/** A project as `salesmachine projects create --json` prints it. */
final class Project
{
    public function __construct(
        public readonly int $id,
        public readonly string $name,
        public readonly string $token,
        public readonly string $secret,
    ) {
    }
}
