<?php

declare(strict_types=1);

// The legacy library is loaded with this one file (`require 'salesmachine-php/lib/Salesmachine.php'`,
// or composer's `files`): it brings in the loader of the Salesmachine\* classes it fronts.
require_once __DIR__ . '/../autoload.php';

/**
 * The static interface of the API document:
 *
 *     Salesmachine::init(YOUR_API_TOKEN, YOUR_API_SECRET);
 *     Salesmachine::set_contact("123456", array('email' => 'elon@teslamotors.com'));
 *
 * A thin front for one Salesmachine\Client, kept here so that code written for the legacy
 * library runs unchanged. Every call returns true when the message was queued.
 */
final class Salesmachine
{
    private static ?Salesmachine\Client $client = null;

    /**
     * @param array<string, mixed> $options see Salesmachine\Client (host, batch_size, on_error...)
     */
    public static function init(string $token, ?string $secret = null, array $options = []): Salesmachine\Client
    {
        return self::$client = new Salesmachine\Client($token, $secret, $options);
    }

    /** @param array<mixed> $params @param array<string, mixed> $options created_at, message_id */
    public static function set_contact(mixed $contact_uid, array $params = [], array $options = []): bool
    {
        return self::client()->set_contact($contact_uid, $params, $options);
    }

    /** @param array<mixed> $params @param array<string, mixed> $options */
    public static function set_account(mixed $account_uid, array $params = [], array $options = []): bool
    {
        return self::client()->set_account($account_uid, $params, $options);
    }

    /** @param array<mixed> $params @param array<string, mixed> $options */
    public static function track_event(mixed $contact_uid, mixed $event_uid, array $params = [], array $options = []): bool
    {
        return self::client()->track_event($contact_uid, $event_uid, $params, $options);
    }

    /** @param array<mixed> $params @param array<string, mixed> $options */
    public static function track_pageview(mixed $contact_uid, array $params = [], array $options = []): bool
    {
        return self::client()->track_pageview($contact_uid, $params, $options);
    }

    /** @param array<string, mixed> $options */
    public static function alias(mixed $contact_uid, mixed $alias, array $options = []): bool
    {
        return self::client()->alias($contact_uid, $alias, $options);
    }

    /** Send what is queued now rather than at the end of the request. */
    public static function flush(): bool
    {
        return self::client()->flush();
    }

    public static function client(): Salesmachine\Client
    {
        return self::$client ?? throw new LogicException(
            'Salesmachine::init(YOUR_API_TOKEN, YOUR_API_SECRET) must be called before any other Salesmachine call'
        );
    }
}
