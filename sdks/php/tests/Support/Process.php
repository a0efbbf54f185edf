<?php

declare(strict_types=1);

namespace Salesmachine\Tests\Support;

/**
 * A child process started without a shell, whose output is gathered while it runs.
 */
final class Process
{
    /** @var resource */
    private $process;
    /** @var array<int, resource> */
    private array $pipes;
    private string $stdout = '';
    private string $stderr = '';
    private ?int $exitCode = null;

    private bool $group;

    /**
     * With `group`, the command runs in a session of its own and terminate() signals all
     * of it: `php -S` with workers leaves them running when only its first process is told.
     *
     * @param list<string> $command
     * @param array<string, string>|null $env
     */
    public function __construct(array $command, ?array $env = null, ?string $cwd = null, bool $group = false)
    {
        $this->group = $group;
        if ($group) {
            // setsid execs the command in place (the child of proc_open leads no group), so
            // its pid is the new group's id.
            array_unshift($command, 'setsid');
        }
        $process = proc_open($command, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
            $pipes, $cwd, $env);
        if (!is_resource($process)) {
            throw new \RuntimeException('could not start ' . implode(' ', $command));
        }
        $this->process = $process;
        $this->pipes = $pipes;
        stream_set_blocking($pipes[1], false);
        stream_set_blocking($pipes[2], false);
    }

    /**
     * Run `command` to its end; throws unless it exits 0.
     *
     * @param list<string> $command
     * @param array<string, string>|null $env
     */
    public static function run(array $command, ?array $env = null, float $timeout = 60): string
    {
        $process = new self($command, $env);
        $code = $process->wait($timeout);
        if ($code !== 0) {
            throw new \RuntimeException(implode(' ', $command) . " exited {$code}: " . $process->stderr());
        }
        return $process->stdout();
    }

    /** A process still running when its owner lets go of it (a failed test) is stopped. */
    public function __destruct()
    {
        $this->terminate(5);
    }

    public function stdout(): string
    {
        $this->pump();
        return $this->stdout;
    }

    public function stderr(): string
    {
        $this->pump();
        return $this->stderr;
    }

    public function running(): bool
    {
        if ($this->exitCode !== null) {
            return false;
        }
        $status = proc_get_status($this->process);
        if ($status['running']) {
            return true;
        }
        $this->exitCode = $status['exitcode'];
        return false;
    }

    /** Wait for the exit (gathering output meanwhile); its code, or throws after `timeout`. */
    public function wait(float $timeout = 60): int
    {
        $deadline = microtime(true) + $timeout;
        while ($this->running()) {
            if (microtime(true) > $deadline) {
                $this->kill();
                throw new \RuntimeException("process still running after {$timeout}s: " . $this->stderr());
            }
            $this->pump(0.02);
        }
        $this->pump();
        return (int) $this->exitCode;
    }

    public function terminate(float $timeout = 20): void
    {
        if ($this->group) {
            // The whole group, even when its leader has already gone.
            @posix_kill(-proc_get_status($this->process)['pid'], 15);
        }
        if ($this->running()) {
            proc_terminate($this->process, 15);
            try {
                $this->wait($timeout);
            } catch (\RuntimeException) {
                // wait() killed it.
            }
        }
    }

    public function kill(): void
    {
        if ($this->running()) {
            proc_terminate($this->process, 9);
            while ($this->running()) {
                usleep(10_000);
            }
        }
    }

    /** Read what the pipes hold, waiting up to `seconds` for some. */
    private function pump(float $seconds = 0): void
    {
        $read = array_filter([$this->pipes[1] ?? null, $this->pipes[2] ?? null], static fn ($p) => is_resource($p) && !feof($p));
        if ($read === []) {
            return;
        }
        $write = $except = null;
        if (@stream_select($read, $write, $except, 0, (int) ($seconds * 1_000_000)) > 0) {
            foreach ($read as $pipe) {
                $chunk = (string) stream_get_contents($pipe);
                if ($pipe === $this->pipes[1]) {
                    $this->stdout .= $chunk;
                } else {
                    $this->stderr .= $chunk;
                }
            }
        }
    }
}
