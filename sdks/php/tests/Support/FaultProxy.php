<?php

declare(strict_types=1);

namespace Salesmachine\Tests\Support;

/**
 * An HTTP proxy in front of the real server (`php -S` with proxy_router.php) that answers
 * the next requests with chosen errors, or forwards one and loses its answer. It records
 * every request it saw. Its faults and records live in files, since each of its workers is
 * a process of its own.
 */
final class FaultProxy
{
    public readonly int $port;
    private Process $process;
    private string $state;

    public function __construct(int $upstreamPort, string $workdir)
    {
        $this->state = $workdir . '/proxy-' . bin2hex(random_bytes(4));
        mkdir($this->state);
        file_put_contents($this->state . '/faults.json', '[]');
        $this->port = Server::freePort();
        $env = getenv();
        $env['SM_PROXY_STATE'] = $this->state;
        $env['SM_PROXY_UPSTREAM'] = "http://127.0.0.1:{$upstreamPort}";
        // Several workers: a request held to lose its answer must not block the client's retry.
        $env['PHP_CLI_SERVER_WORKERS'] = '4';
        $this->process = new Process([PHP_BINARY, '-S', "127.0.0.1:{$this->port}", __DIR__ . '/proxy_router.php'], $env,
            group: true);
        $deadline = microtime(true) + 10;
        while (!($socket = @fsockopen('127.0.0.1', $this->port, $errno, $error, 0.2))) {
            if (!$this->process->running() || microtime(true) > $deadline) {
                throw new \RuntimeException('the proxy did not start: ' . $this->process->stderr());
            }
            usleep(10_000);
        }
        fclose($socket);
    }

    public function url(): string
    {
        return "http://127.0.0.1:{$this->port}";
    }

    public function failNext(int $count, int $status, ?string $retryAfter = null): void
    {
        $this->add(array_fill(0, $count, ['kind' => 'answer', 'status' => $status, 'retry_after' => $retryAfter]));
    }

    /** Forward the next request, then hold its answer for `seconds` (past the client's timeout). */
    public function dropNext(float $seconds): void
    {
        $this->add([['kind' => 'drop', 'seconds' => $seconds]]);
    }

    /** @param array<string, mixed> $body */
    public function answerNext(int $status, array $body): void
    {
        $this->add([['kind' => 'answer', 'status' => $status, 'body' => json_encode($body)]]);
    }

    /**
     * Requests in the order they arrived: at, status, items, credentials [user, password].
     *
     * @return list<array<string, mixed>>
     */
    public function requests(): array
    {
        $text = (string) @file_get_contents($this->state . '/seen.jsonl');
        $seen = array_map(static fn (string $line) => json_decode($line, true), array_filter(explode("\n", $text)));
        usort($seen, static fn (array $a, array $b) => $a['at'] <=> $b['at']);
        return array_map(static function (array $request): array {
            $auth = (string) $request['authorization'];
            $request['credentials'] = str_starts_with($auth, 'Basic ') ? explode(':', base64_decode(substr($auth, 6)), 2) : null;
            $request['items'] = json_decode($request['body'], true);
            return $request;
        }, $seen);
    }

    public function close(): void
    {
        $this->process->terminate(5);
    }

    /** @param list<array<string, mixed>> $faults */
    private function add(array $faults): void
    {
        $lock = fopen($this->state . '/lock', 'c');
        flock($lock, LOCK_EX);
        $queued = json_decode((string) file_get_contents($this->state . '/faults.json'), true) ?: [];
        file_put_contents($this->state . '/faults.json', json_encode(array_merge($queued, $faults)));
        flock($lock, LOCK_UN);
        fclose($lock);
    }
}
