<?php

declare(strict_types=1);

namespace Salesmachine;

/**
 * One POST of one batch with curl, and what the answer means; retrying is Sender's job.
 * The curl handle is kept, so the connection is reused between batches of one request.
 */
final class Transport
{
    public const VERSION = '1.0.0';
    /** A server asking for more than this is misconfigured; waiting longer would look like a hang. */
    public const MAX_RETRY_AFTER = 300.0;

    private ?\CurlHandle $curl = null;

    public function __construct(
        private readonly string $url,
        private readonly string $token,
        private readonly ?string $secret,
        private readonly float $timeout,
        private readonly float $connectTimeout,
    ) {
        if (!function_exists('curl_init')) {
            throw new \LogicException('Salesmachine needs the curl extension (Debian: php-curl)');
        }
    }

    /**
     * POST `body` (a JSON array). Returns an Answer; throws ApiError for an error status and
     * NetworkError when no answer came.
     */
    public function post(string $body): Answer
    {
        $curl = $this->curl ??= curl_init();
        $headers = [];
        curl_setopt_array($curl, [
            CURLOPT_URL => $this->url,
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $body,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_HTTPAUTH => CURLAUTH_BASIC,
            // HTTP Basic with the token as user and the secret as password, as the document says.
            CURLOPT_USERPWD => $this->token . ':' . ($this->secret ?? ''),
            CURLOPT_HTTPHEADER => [
                'Content-Type: application/json',
                'Accept: application/json',
                'User-Agent: salesmachine-php/' . self::VERSION . ' php/' . PHP_VERSION,
                // curl would otherwise send `Expect: 100-continue` for large bodies and wait.
                'Expect:',
            ],
            CURLOPT_TIMEOUT_MS => (int) ($this->timeout * 1000),
            CURLOPT_CONNECTTIMEOUT_MS => (int) ($this->connectTimeout * 1000),
            CURLOPT_NOSIGNAL => true,
            CURLOPT_HEADERFUNCTION => static function ($handle, string $line) use (&$headers): int {
                $pair = explode(':', $line, 2);
                if (count($pair) === 2) {
                    $headers[strtolower(trim($pair[0]))] = trim($pair[1]);
                }
                return strlen($line);
            },
        ]);
        $text = curl_exec($curl);
        if ($text === false) {
            $error = curl_error($curl);
            $this->close();
            throw new NetworkError("{$this->url}: {$error}");
        }
        $status = (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        $json = self::parse((string) $text);
        if ($status >= 200 && $status < 300) {
            return new Answer($status, $json ?? []);
        }
        // Our server sends error, code and message; older or foreign servers may send some.
        $json ??= [];
        $code = (string) ($json['code'] ?? "http_{$status}");
        $message = (string) ($json['message'] ?? $json['error'] ?? trim(substr((string) $text, 0, 200)));
        throw new ApiError($status, $code, $message, self::retryAfterSeconds($headers['retry-after'] ?? null), $json);
    }

    public function close(): void
    {
        if ($this->curl !== null) {
            curl_close($this->curl);
            $this->curl = null;
        }
    }

    /** `Retry-After` as seconds: a number, or an HTTP date (RFC 9110 allows both). */
    public static function retryAfterSeconds(?string $value, ?float $now = null): ?float
    {
        if ($value === null || trim($value) === '') {
            return null;
        }
        $text = trim($value);
        if (preg_match('/^\d+(\.\d+)?$/', $text)) {
            $seconds = (float) $text;
        } else {
            $when = \DateTimeImmutable::createFromFormat(\DateTimeInterface::RFC7231, $text, new \DateTimeZone('UTC'));
            if ($when === false) {
                return null;
            }
            $seconds = $when->getTimestamp() - ($now ?? microtime(true));
        }
        return max(0.0, min((float) $seconds, self::MAX_RETRY_AFTER));
    }

    /** @return array<string, mixed>|null */
    private static function parse(string $text): ?array
    {
        if ($text === '') {
            return null;
        }
        $value = json_decode($text, true);
        return is_array($value) && !array_is_list($value) ? $value : null;
    }
}
