<?php

declare(strict_types=1);

namespace Salesmachine;

/**
 * PHP values -> the JSON the server stores, and the timestamps the wire carries.
 *
 * Params are converted when the call is made, not when the batch is sent: a value JSON
 * cannot carry must fail at the call, naming the key, rather than at the end of the
 * request in a shutdown function where nobody is looking.
 */
final class Codec
{
    /** Deeper than this is a cycle or a mistake. */
    public const MAX_DEPTH = 100;

    private const JSON_FLAGS = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION
        | JSON_THROW_ON_ERROR;

    /** `2013-01-01T00:00:00.000Z`: UTC with milliseconds, the form the API document uses. */
    public static function timestamp(\DateTimeInterface $time): string
    {
        $utc = \DateTimeImmutable::createFromInterface($time)->setTimezone(new \DateTimeZone('UTC'));
        return $utc->format('Y-m-d\TH:i:s.v\Z');
    }

    public static function now(): string
    {
        return self::timestamp(new \DateTimeImmutable('now'));
    }

    /**
     * A random (version 4) uuid: the message's id, which the server stores and acknowledges
     * again without applying twice; what makes resending after a lost answer safe.
     */
    public static function messageId(): string
    {
        $bytes = random_bytes(16);
        $bytes[6] = chr((ord($bytes[6]) & 0x0f) | 0x40);
        $bytes[8] = chr((ord($bytes[8]) & 0x3f) | 0x80);
        $hex = bin2hex($bytes);
        return sprintf('%s-%s-%s-%s-%s', substr($hex, 0, 8), substr($hex, 8, 4), substr($hex, 12, 4),
            substr($hex, 16, 4), substr($hex, 20, 12));
    }

    /**
     * `created_at` as the wire takes it: a DateTimeInterface (sent in UTC), epoch seconds,
     * or a string PHP's date parser reads (normalised to UTC; no zone means UTC).
     */
    public static function createdAt(mixed $value): string
    {
        if ($value instanceof \DateTimeInterface) {
            return self::timestamp($value);
        }
        if (is_int($value)) {
            return self::timestamp(new \DateTimeImmutable('@' . $value));
        }
        if (is_string($value) && trim($value) !== '') {
            try {
                return self::timestamp(new \DateTimeImmutable($value, new \DateTimeZone('UTC')));
            } catch (\Exception) {
                throw new \InvalidArgumentException("created_at must be a date and time, got '{$value}'");
            }
        }
        throw new \InvalidArgumentException(
            'created_at must be a DateTimeInterface, an epoch integer or a date string, got ' . get_debug_type($value)
        );
    }

    /**
     * A copy of `value` made of arrays, strings, ints, finite floats, bools and null.
     * DateTimeInterface -> ISO string in UTC; JsonSerializable -> what it serialises to;
     * backed enum -> its value; Stringable -> its string; stdClass -> its properties.
     * Anything else throws InvalidArgumentException naming `path`.
     */
    public static function jsonSafe(mixed $value, string $path = 'params', int $depth = 0): mixed
    {
        if ($value === null || is_string($value) || is_bool($value) || is_int($value)) {
            return $value;
        }
        if (is_float($value)) {
            if (!is_finite($value)) {
                throw new \InvalidArgumentException("{$path} is {$value}, which JSON cannot carry");
            }
            return $value;
        }
        if ($depth >= self::MAX_DEPTH) {
            throw new \InvalidArgumentException("{$path} is nested more than " . self::MAX_DEPTH . ' levels deep');
        }
        if (is_array($value)) {
            $out = [];
            foreach ($value as $key => $item) {
                $out[$key] = self::jsonSafe($item, "{$path}[" . var_export($key, true) . ']', $depth + 1);
            }
            // json_encode writes a list as an array and any other array as an object.
            return $out;
        }
        if ($value instanceof \DateTimeInterface) {
            return self::timestamp($value);
        }
        if ($value instanceof \BackedEnum) {
            return $value->value;
        }
        if ($value instanceof \JsonSerializable) {
            return self::jsonSafe($value->jsonSerialize(), $path, $depth + 1);
        }
        if ($value instanceof \stdClass) {
            // Kept an object, so that an empty one is still `{}` in JSON.
            return (object) self::jsonSafe((array) $value, $path, $depth + 1);
        }
        if ($value instanceof \Stringable) {
            return (string) $value;
        }
        throw new \InvalidArgumentException(
            "{$path} is a " . get_debug_type($value) . ', which JSON cannot carry '
            . '(use a string, number, bool, null, DateTimeInterface or array)'
        );
    }

    /**
     * The params of a call: an associative array (or an empty one), which JSON carries as an
     * object. A list such as `array('/dashboard')` has no names for its values and is refused.
     *
     * @param array<mixed> $params
     * @return array<string, mixed>|\stdClass an empty object for empty params (`[]` in JSON would be a list)
     */
    public static function params(array $params): array|\stdClass
    {
        if ($params === []) {
            return new \stdClass();
        }
        if (array_is_list($params)) {
            throw new \InvalidArgumentException(
                "params must be an associative array ('name' => value), got a list of " . count($params) . ' value(s)'
            );
        }
        return self::jsonSafe($params);
    }

    /** One message as compact JSON. */
    public static function encode(mixed $message): string
    {
        try {
            return json_encode($message, self::JSON_FLAGS);
        } catch (\JsonException $e) {
            throw new \InvalidArgumentException('message cannot be encoded as JSON: ' . $e->getMessage(), 0, $e);
        }
    }

    /**
     * The item's JSON with `"sent_at":"..."` added: stamped at each attempt, because the
     * server corrects the client's clock with it (occurred = received - (sent_at - created_at)).
     */
    public static function stampSentAt(string $encoded, string $sentAt): string
    {
        return substr($encoded, 0, -1) . ',"sent_at":"' . $sentAt . '"}';
    }
}
