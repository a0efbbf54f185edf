<?php

declare(strict_types=1);

namespace Salesmachine;

/**
 * The document's calls -> the items of a `POST /v1/batch` body.
 *
 * Every item gets a `messageId` (the server's deduplication key) and a `created_at` (when
 * the call was made, not when it was sent). `$options` may set either: `created_at` (a
 * DateTimeInterface, epoch seconds or a date string) and `message_id` (your own id).
 */
final class Messages
{
    private const OPTIONS = ['created_at', 'message_id'];

    /** @param array<mixed> $params @param array<string, mixed> $options @return array<string, mixed> */
    public static function contact(mixed $contactUid, array $params = [], array $options = []): array
    {
        return self::item('contact', [
            'contact_uid' => self::uid($contactUid, 'contact_uid'),
            'params' => Codec::params($params),
        ], $options);
    }

    /** @param array<mixed> $params @param array<string, mixed> $options @return array<string, mixed> */
    public static function account(mixed $accountUid, array $params = [], array $options = []): array
    {
        return self::item('account', [
            'account_uid' => self::uid($accountUid, 'account_uid'),
            'params' => Codec::params($params),
        ], $options);
    }

    /** @param array<mixed> $params @param array<string, mixed> $options @return array<string, mixed> */
    public static function event(mixed $contactUid, mixed $eventUid, array $params = [], array $options = []): array
    {
        return self::item('event', [
            'contact_uid' => self::uid($contactUid, 'contact_uid'),
            'event_uid' => self::uid($eventUid, 'event_uid'),
            'params' => Codec::params($params),
        ], $options);
    }

    /**
     * A pageview is an event named "pageview" (the document's batch has no pageview method).
     *
     * @param array<mixed> $params @param array<string, mixed> $options @return array<string, mixed>
     */
    public static function pageview(mixed $contactUid, array $params = [], array $options = []): array
    {
        return self::event($contactUid, 'pageview', $params, $options);
    }

    /** @param array<string, mixed> $options @return array<string, mixed> */
    public static function alias(mixed $contactUid, mixed $alias, array $options = []): array
    {
        return self::item('alias', [
            'contact_uid' => self::uid($contactUid, 'contact_uid'),
            'alias' => self::uid($alias, 'alias'),
        ], $options);
    }

    /** A uid is a non-empty string; an integer (a database id) is sent as its decimal string. */
    private static function uid(mixed $value, string $name): string
    {
        if (is_int($value)) {
            $value = (string) $value;
        }
        if (!is_string($value) || trim($value) === '') {
            throw new \InvalidArgumentException("{$name} is required and must be a non-empty string");
        }
        return $value;
    }

    /**
     * @param array<string, mixed> $fields
     * @param array<string, mixed> $options
     * @return array<string, mixed>
     */
    private static function item(string $method, array $fields, array $options): array
    {
        $unknown = array_diff(array_keys($options), self::OPTIONS);
        if ($unknown !== []) {
            throw new \InvalidArgumentException(
                'unknown option(s) ' . implode(', ', $unknown) . ' (a call takes ' . implode(', ', self::OPTIONS) . ')'
            );
        }
        $messageId = $options['message_id'] ?? Codec::messageId();
        if (!is_string($messageId) || $messageId === '') {
            throw new \InvalidArgumentException('message_id must be a non-empty string');
        }
        return ['method' => $method] + $fields + [
            'created_at' => isset($options['created_at']) ? Codec::createdAt($options['created_at']) : Codec::now(),
            'messageId' => $messageId,
        ];
    }
}
