<?php

declare(strict_types=1);

namespace Salesmachine\Tests\Support;

/**
 * `salesmachine serve` as a subprocess on a free port, with its own SQLite file. The server
 * is reached the way users reach it: its command line and HTTP, nothing else.
 */
final class Server
{
    public readonly int $port;
    public readonly string $dbPath;
    public readonly string $logPath;
    /** @var array<string, string> */
    private array $env;
    private ?Process $process = null;
    private ?Process $nextProject = null;

    /** @param bool $prefetch create each next project in the background (see createProject) */
    public function __construct(private readonly string $workdir, private readonly bool $prefetch = false)
    {
        $this->dbPath = $workdir . '/salesmachine.db';
        $this->logPath = $workdir . '/server.log';
        $this->port = self::freePort();
        // The server reads SALESMACHINE_* variables as its settings: none of the test run's
        // (SALESMACHINE_HOST, say, which is where the client sends) reach it.
        $env = array_filter(getenv(), static fn (string $key) => !str_starts_with($key, 'SALESMACHINE_'), ARRAY_FILTER_USE_KEY);
        $env['SALESMACHINE_KEY_FILE'] = $workdir . '/server.key';
        $this->env = $env;
    }

    /** The `salesmachine` command: $SALESMACHINE_SERVER_BIN, else the first on PATH. */
    public static function command(): string
    {
        $explicit = getenv('SALESMACHINE_SERVER_BIN');
        if (is_string($explicit) && $explicit !== '' && is_executable($explicit)) {
            return $explicit;
        }
        foreach (explode(PATH_SEPARATOR, (string) getenv('PATH')) as $dir) {
            $candidate = $dir . '/salesmachine';
            if ($dir !== '' && is_file($candidate) && is_executable($candidate)) {
                return $candidate;
            }
        }
        throw new \RuntimeException('the server command `salesmachine` is not on PATH (install ./server: make venv)');
    }

    public static function freePort(): int
    {
        $socket = stream_socket_server('tcp://127.0.0.1:0');
        $name = stream_socket_get_name($socket, false);
        fclose($socket);
        return (int) substr($name, strrpos($name, ':') + 1);
    }

    public function url(): string
    {
        return "http://127.0.0.1:{$this->port}";
    }

    public function databaseUrl(): string
    {
        return 'sqlite:///' . $this->dbPath;
    }

    /**
     * A new project. `projects create` takes a second or two (the CLI starts Python), so the
     * next one is created by a process started now, while the test that asked uses this one.
     */
    public function createProject(): Project
    {
        $ready = $this->nextProject ?? $this->startProjectCreation();
        $this->nextProject = $this->prefetch ? $this->startProjectCreation() : null;
        if ($ready->wait(60) !== 0) {
            throw new \RuntimeException('projects create failed: ' . $ready->stderr());
        }
        $created = json_decode($ready->stdout(), true, flags: JSON_THROW_ON_ERROR);
        return new Project($created['id'], $created['name'], $created['token'], $created['secret']);
    }

    public function start(float $timeout = 30): self
    {
        $this->process = new Process([self::command(), 'serve', '--host', '127.0.0.1', '--port', (string) $this->port,
            '--database', $this->databaseUrl()], $this->env);
        $deadline = microtime(true) + $timeout;
        while (!$this->healthy()) {
            if (!$this->process->running()) {
                throw new \RuntimeException("server exited:\n" . $this->process->stdout() . $this->process->stderr());
            }
            if (microtime(true) > $deadline) {
                throw new \RuntimeException("server did not answer within {$timeout}s:\n" . $this->process->stderr());
            }
            usleep(20_000);
        }
        return $this;
    }

    public function stop(): void
    {
        if ($this->process !== null) {
            $this->process->terminate();
            file_put_contents($this->logPath, $this->process->stdout() . $this->process->stderr(), FILE_APPEND);
            $this->process = null;
        }
    }

    /** Stop the server and wait for a project still being created in the background. */
    public function close(): void
    {
        $this->stop();
        $this->nextProject?->wait(60);
        $this->nextProject = null;
    }

    private function startProjectCreation(): Process
    {
        $name = 'php-client-test-' . bin2hex(random_bytes(6));
        return new Process([self::command(), 'projects', 'create', $name, '--json', '--database', $this->databaseUrl()],
            $this->env);
    }

    private function healthy(): bool
    {
        $context = stream_context_create(['http' => ['timeout' => 1, 'ignore_errors' => true]]);
        $body = @file_get_contents($this->url() . '/healthz', false, $context);
        return $body !== false && isset($http_response_header[0]) && str_contains($http_response_header[0], ' 200');
    }
}
