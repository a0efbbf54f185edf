<?php

declare(strict_types=1);

// The suite runs the library against a real `salesmachine serve` (found on PATH) with a
// temporary SQLite file, and reads what was stored from that file.
require __DIR__ . '/../autoload.php';

spl_autoload_register(static function (string $class): void {
    $prefix = 'Salesmachine\\Tests\\';
    if (str_starts_with($class, $prefix)) {
        $file = __DIR__ . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
