<?php

declare(strict_types=1);

namespace Salesmachine\Tests\Support;

use Salesmachine\Client;

/**
 * Helpers for the tests, which read as usage of the library: one server shared by the
 * suite, projects, a client with quick retries and a logger that keeps its lines.
 */
abstract class TestCase extends \PHPUnit\Framework\TestCase
{
    public const AUTOLOAD = __DIR__ . '/../../autoload.php';

    private static ?Server $server = null;
    private static ?array $shared = null;
    private static ?string $workdir = null;

    /** @var list<string> what the client logged, as "level message" */
    protected array $logged = [];

    public static function workdir(): string
    {
        if (self::$workdir === null) {
            self::$workdir = sys_get_temp_dir() . '/salesmachine-php-test-' . getmypid() . '-' . bin2hex(random_bytes(3));
            mkdir(self::$workdir);
            register_shutdown_function(static function (): void {
                self::$server?->close();
                if (!getenv('KEEP_TEST_FILES')) {
                    exec('rm -rf ' . escapeshellarg(self::$workdir));
                }
            });
        }
        return self::$workdir;
    }

    /** A server of one's own, in a folder under the suite's. */
    public static function newServer(bool $prefetch = false): Server
    {
        $dir = self::workdir() . '/server-' . bin2hex(random_bytes(4));
        mkdir($dir);
        return (new Server($dir, $prefetch))->start();
    }

    /**
     * The server most tests share (creating their projects ahead); tests that stop a server
     * start their own.
     */
    protected function server(): Server
    {
        return self::$server ??= self::newServer(prefetch: true);
    }

    /** @return array{Project, Stored} a fresh project and the reader of what it stores */
    protected function newProject(?Server $on = null): array
    {
        $on ??= $this->server();
        $project = $on->createProject();
        return [$project, new Stored($on->dbPath, $project->id)];
    }

    /**
     * One project for the tests that use uids of their own, so that they need not wait for
     * a project each.
     *
     * @return array{Project, Stored}
     */
    protected function sharedProject(): array
    {
        return self::$shared ??= $this->newProject();
    }

    protected function uniqueUid(): string
    {
        return $this->getName(false) . '-' . bin2hex(random_bytes(4));
    }

    /**
     * A client with retries quick enough for a test (host: the shared server unless given).
     *
     * @param array<string, mixed> $options
     */
    protected function clientFor(Project $project, array $options = [], ?string $secret = null): Client
    {
        $options += [
            'host' => $this->server()->url(),
            'backoff_base' => 0.02,
            'backoff_cap' => 0.2,
            'max_retries' => 100,
            'logger' => function (string $level, string $message): void {
                $this->logged[] = "{$level} {$message}";
            },
        ];
        return new Client($project->token, $secret ?? $project->secret, $options);
    }

    /** Poll `check` until it is truthy; fail after `timeout` seconds. */
    protected function waitUntil(string $what, callable $check, float $timeout = 15): mixed
    {
        $deadline = microtime(true) + $timeout;
        while (!($value = $check())) {
            if (microtime(true) > $deadline) {
                $this->fail("timed out after {$timeout}s waiting for {$what}");
            }
            usleep(10_000);
        }
        return $value;
    }

    /**
     * Run `code` in a PHP process of its own (a request of its own: it ends, and its shutdown
     * functions run). `code` is a PHP file's body, after the library is loaded.
     *
     * @param array<string, string> $env
     */
    protected function startScript(string $code, array $env = []): Process
    {
        $file = self::workdir() . '/script-' . bin2hex(random_bytes(4)) . '.php';
        file_put_contents($file, "<?php\nrequire " . var_export(realpath(self::AUTOLOAD), true) . ";\n" . $code);
        return new Process([PHP_BINARY, $file], $env + getenv());
    }
}
