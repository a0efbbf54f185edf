<?php

declare(strict_types=1);

namespace Salesmachine;

/**
 * The client's options, checked once at `Salesmachine::init`.
 */
final class Config
{
    /**
     * A self-hosted server on this machine: the library never sends to the vendor's service
     * unless it is told to.
     */
    public const DEFAULT_HOST = 'http://127.0.0.1:8080';
    /** The server takes at most 2500 items and 5 MiB per batch, 64 KiB per item. */
    public const MAX_BATCH_SIZE = 2500;
    public const MAX_BATCH_BYTES = 500 * 1024;
    public const MAX_MESSAGE_BYTES = 63 * 1024;

    private const DEFAULTS = [
        'host' => null,
        'batch_size' => 100,
        'max_queue_size' => 10000,
        // Sending happens inside the PHP request, so the default retry budget is short:
        // 5 retries from 0.25 s doubling, about 8 s in all.
        'max_retries' => 5,
        'backoff_base' => 0.25,
        'backoff_cap' => 8.0,
        'timeout' => 10.0,
        'connect_timeout' => 5.0,
        'on_error' => null,
        'logger' => null,
        // The legacy library's switches: use_buffer false sent every call at once (a batch
        // of one); use_https chose the scheme (here: of a host given without one); debug
        // logged every request.
        'use_buffer' => true,
        'use_https' => false,
        'debug' => false,
    ];

    public readonly string $url;
    public readonly int $batchSize;
    public readonly int $maxQueueSize;
    public readonly int $maxRetries;
    public readonly float $backoffBase;
    public readonly float $backoffCap;
    public readonly float $timeout;
    public readonly float $connectTimeout;
    /** @var (callable(int, string, list<array<string, mixed>>): mixed)|null */
    public readonly mixed $onError;
    /** @var callable(string, string): mixed */
    public readonly mixed $logger;

    /**
     * @param array<string, mixed> $options
     * @param array<string, string>|null $env the environment (getenv() when null)
     */
    public function __construct(
        public readonly string $token,
        public readonly ?string $secret,
        array $options = [],
        ?array $env = null,
    ) {
        if ($token === '') {
            throw new \InvalidArgumentException('Salesmachine::init() requires your API token');
        }
        $unknown = array_diff(array_keys($options), array_keys(self::DEFAULTS));
        if ($unknown !== []) {
            throw new \InvalidArgumentException('unknown option(s) ' . implode(', ', $unknown));
        }
        $values = $options + self::DEFAULTS;
        $env ??= getenv();

        $host = $values['host'] ?? (($env['SALESMACHINE_HOST'] ?? '') !== '' ? $env['SALESMACHINE_HOST'] : self::DEFAULT_HOST);
        $this->url = self::batchUrl((string) $host, (bool) $values['use_https']);
        $this->batchSize = $values['use_buffer'] ? min(self::positiveInt($values, 'batch_size'), self::MAX_BATCH_SIZE) : 1;
        $this->maxQueueSize = self::positiveInt($values, 'max_queue_size');
        if (!is_int($values['max_retries']) || $values['max_retries'] < 0) {
            throw new \InvalidArgumentException('max_retries must be an integer >= 0');
        }
        $this->maxRetries = $values['max_retries'];
        $this->backoffBase = self::positiveNumber($values, 'backoff_base');
        $this->backoffCap = self::positiveNumber($values, 'backoff_cap');
        $this->timeout = self::positiveNumber($values, 'timeout');
        $this->connectTimeout = self::positiveNumber($values, 'connect_timeout');
        if ($values['on_error'] !== null && !is_callable($values['on_error'])) {
            throw new \InvalidArgumentException('on_error must be callable');
        }
        $this->onError = $values['on_error'];
        if ($values['logger'] !== null && !is_callable($values['logger'])) {
            throw new \InvalidArgumentException('logger must be callable as (string $level, string $message)');
        }
        $this->logger = $values['logger'] ?? ($values['debug'] ? [self::class, 'errorLogAll'] : [self::class, 'errorLog']);
    }

    /**
     * `{host}/v1/batch`. The host is a URL (`https://sm.example.com`, `http://127.0.0.1:8080`,
     * with a path prefix when the server sits behind one); a bare `host:port` means http, or
     * https with `use_https`.
     */
    public static function batchUrl(string $host, bool $https = false): string
    {
        $text = rtrim(trim($host), '/');
        if (!preg_match('#^[a-z][a-z0-9+.-]*://#i', $text)) {
            $text = ($https ? 'https://' : 'http://') . $text;
        }
        $parts = parse_url($text);
        if ($parts === false || !in_array(strtolower($parts['scheme'] ?? ''), ['http', 'https'], true)
            || ($parts['host'] ?? '') === '') {
            throw new \InvalidArgumentException("host must be an http or https URL, got '{$host}'");
        }
        return $text . '/v1/batch';
    }

    /** The default logger: warnings and errors to PHP's error log. */
    public static function errorLog(string $level, string $message): void
    {
        if ($level !== 'debug') {
            error_log("salesmachine {$level}: {$message}");
        }
    }

    /** The default logger with `debug`: every line to PHP's error log. */
    public static function errorLogAll(string $level, string $message): void
    {
        error_log("salesmachine {$level}: {$message}");
    }

    /** @param array<string, mixed> $values */
    private static function positiveInt(array $values, string $key): int
    {
        if (!is_int($values[$key]) || $values[$key] <= 0) {
            throw new \InvalidArgumentException("{$key} must be a positive integer");
        }
        return $values[$key];
    }

    /** @param array<string, mixed> $values */
    private static function positiveNumber(array $values, string $key): float
    {
        if (!(is_int($values[$key]) || is_float($values[$key])) || $values[$key] <= 0) {
            throw new \InvalidArgumentException("{$key} must be a positive number of seconds");
        }
        return (float) $values[$key];
    }
}
