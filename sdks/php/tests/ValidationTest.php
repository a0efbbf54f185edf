<?php

declare(strict_types=1);

namespace Salesmachine\Tests;

use PHPUnit\Framework\TestCase;
use Salesmachine;
use Salesmachine\Backoff;
use Salesmachine\Client;
use Salesmachine\Config;
use Salesmachine\Messages;
use Salesmachine\Transport;

/**
 * What the library refuses at the call, and the pieces of its sending policy; no server
 * needed (nothing here is ever sent: every call is refused or the queue is left empty).
 */
final class ValidationTest extends TestCase
{
    private function client(array $options = []): Client
    {
        return new Client('token', 'secret', $options + ['host' => 'http://127.0.0.1:9', 'logger' => static function (): void {
        }]);
    }

    private function assertRefused(string $pattern, callable $call): void
    {
        try {
            $call();
        } catch (\InvalidArgumentException $e) {
            $this->assertMatchesRegularExpression($pattern, $e->getMessage());
            return;
        }
        $this->fail("expected InvalidArgumentException matching {$pattern}");
    }

    public function testACallWithoutItsUidIsRefused(): void
    {
        $client = $this->client();
        $this->assertRefused('/contact_uid is required/', fn () => $client->set_contact('', ['name' => 'x']));
        $this->assertRefused('/contact_uid is required/', fn () => $client->set_contact(null));
        $this->assertRefused('/account_uid is required/', fn () => $client->set_account('  '));
        $this->assertRefused('/event_uid is required/', fn () => $client->track_event('1', ''));
        $this->assertRefused('/contact_uid is required/', fn () => $client->track_pageview(1.5));
        $this->assertRefused('/alias is required/', fn () => $client->alias('1', ''));
        $this->assertSame(0, $client->queued());
    }

    /** The legacy README's `track_pageview($uid, array('/dashboard'))` has no names for its values. */
    public function testParamsMustBeNamed(): void
    {
        $this->assertRefused('/params must be an associative array/',
            fn () => $this->client()->track_pageview('1', array('/dashboard')));
    }

    public function testParamsMustBeJsonValues(): void
    {
        $client = $this->client();
        $this->assertRefused("/params\\['a'\\]\\['b'\\] is a Closure, which JSON cannot carry/",
            fn () => $client->set_contact('1', ['a' => ['b' => static fn () => 1]]));
        $this->assertRefused('/params\[\'mrr\'\] is NAN/', fn () => $client->set_contact('1', ['mrr' => NAN]));
        $this->assertRefused('/cannot be encoded as JSON: Malformed UTF-8/', fn () => $client->set_contact('1', ['name' => "\xff"]));
        $this->assertRefused('/unknown option\(s\) created/', fn () => $client->set_contact('1', [], ['created' => 'now']));
        $this->assertRefused('/created_at must be a date and time/',
            fn () => $client->set_contact('1', [], ['created_at' => 'not a date at all']));
    }

    public function testAMessageOverTheServersItemLimitIsRefused(): void
    {
        $this->assertRefused('/bytes as JSON; the server takes at most/',
            fn () => $this->client()->set_contact('1', ['blob' => str_repeat('x', 64 * 1024)]));
    }

    public function testItemsAsSent(): void
    {
        $item = Messages::event(42, 'signed_up', ['plan' => 'pro'], ['message_id' => 'my-id', 'created_at' => 1577836800]);
        $this->assertSame(['method' => 'event', 'contact_uid' => '42', 'event_uid' => 'signed_up', 'params' => ['plan' => 'pro'],
            'created_at' => '2020-01-01T00:00:00.000Z', 'messageId' => 'my-id'], $item);
        $this->assertSame('{"method":"contact","contact_uid":"1","params":{}',
            substr(Salesmachine\Codec::encode(Messages::contact('1')), 0, 49), 'empty params are an object');
        $this->assertSame('pageview', Messages::pageview('1')['event_uid']);
        $this->assertSame(['method' => 'alias', 'contact_uid' => '1', 'alias' => '2'],
            array_slice(Messages::alias('1', '2'), 0, 3));
    }

    public function testTheStaticInterfaceNeedsInit(): void
    {
        $reset = \Closure::bind(static function (): void {
            self::$client = null;
        }, null, Salesmachine::class);
        $reset();
        $this->expectException(\LogicException::class);
        $this->expectExceptionMessage('Salesmachine::init(YOUR_API_TOKEN, YOUR_API_SECRET) must be called');
        Salesmachine::set_contact('123456', ['name' => 'x']);
    }

    public function testOptions(): void
    {
        $this->assertRefused('/requires your API token/', fn () => new Client(''));
        $this->assertRefused('/unknown option\(s\) hots/', fn () => new Client('t', 's', ['hots' => 'x']));
        $this->assertRefused('/host must be an http or https URL/', fn () => new Client('t', 's', ['host' => 'ftp://x']));
        $this->assertRefused('/batch_size must be a positive integer/', fn () => new Client('t', 's', ['batch_size' => 0]));
        $this->assertRefused('/on_error must be callable/', fn () => new Client('t', 's', ['on_error' => 'no such function']));
    }

    /** The option, else SALESMACHINE_HOST, else a server on this machine: never the vendor's. */
    public function testTheServerAddress(): void
    {
        $url = static fn (array $options, array $env) => (new Config('t', null, $options, $env))->url;
        $this->assertSame('http://127.0.0.1:8080/v1/batch', $url([], []));
        $this->assertSame('http://sm.internal:9000/v1/batch', $url([], ['SALESMACHINE_HOST' => 'http://sm.internal:9000/']));
        $this->assertSame('https://sm.example.com/prefix/v1/batch',
            $url(['host' => 'https://sm.example.com/prefix'], ['SALESMACHINE_HOST' => 'http://ignored']));
        $this->assertSame('http://localhost:8080/v1/batch', $url(['host' => 'localhost:8080'], []));
        // The legacy library's use_https, for a host given without a scheme.
        $this->assertSame('https://sm.example.com/v1/batch', $url(['host' => 'sm.example.com', 'use_https' => true], []));
        $this->assertSame('http://sm.example.com/v1/batch', $url(['host' => 'http://sm.example.com', 'use_https' => true], []));
    }

    public function testBackoffDoublesWithJitterUpToTheCapAndHonoursRetryAfter(): void
    {
        $backoff = new Backoff(0.5, 4.0);
        for ($i = 0; $i < 100; $i++) {
            $this->assertThat($backoff->delay(0), $this->logicalAnd($this->greaterThanOrEqual(0.25), $this->lessThanOrEqual(0.5)));
            $this->assertThat($backoff->delay(2), $this->logicalAnd($this->greaterThanOrEqual(1.0), $this->lessThanOrEqual(2.0)));
            $this->assertThat($backoff->delay(30), $this->logicalAnd($this->greaterThanOrEqual(2.0), $this->lessThanOrEqual(4.0)));
        }
        $this->assertSame(7.0, $backoff->delay(0, 7.0));
    }

    public function testRetryAfterInSecondsOrAsADate(): void
    {
        $now = (float) (new \DateTimeImmutable('2024-01-01T00:00:00Z'))->getTimestamp();
        $this->assertSame(5.0, Transport::retryAfterSeconds('5', $now));
        $this->assertSame(30.0, Transport::retryAfterSeconds('Mon, 01 Jan 2024 00:00:30 GMT', $now));
        $this->assertSame(0.0, Transport::retryAfterSeconds('Sun, 31 Dec 2023 00:00:00 GMT', $now));
        $this->assertSame(300.0, Transport::retryAfterSeconds('86400', $now), 'capped');
        $this->assertNull(Transport::retryAfterSeconds('soon', $now));
        $this->assertNull(Transport::retryAfterSeconds(null, $now));
    }
}
