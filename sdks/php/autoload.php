<?php

declare(strict_types=1);

// For applications without Composer: `require 'path/to/sdks/php/autoload.php';` loads the
// library the way composer.json declares it (the Salesmachine class, and Salesmachine\*
// from src/ by PSR-4). lib/Salesmachine.php requires this file itself, for code that loads
// only that file, as the legacy library's users do.
spl_autoload_register(static function (string $class): void {
    if ($class === 'Salesmachine') {
        require_once __DIR__ . '/lib/Salesmachine.php';
        return;
    }
    $prefix = 'Salesmachine\\';
    if (str_starts_with($class, $prefix)) {
        $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
