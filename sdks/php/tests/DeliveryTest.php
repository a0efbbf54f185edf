<?php

declare(strict_types=1);

namespace Salesmachine\Tests;

use Salesmachine\Tests\Support\FaultProxy;
use Salesmachine\Tests\Support\Project;
use Salesmachine\Tests\Support\Stored;
use Salesmachine\Tests\Support\TestCase;

/**
 * Getting messages to the server when it is down, busy, refusing or losing answers:
 * retried with backoff, resent with the same messageId, stored once.
 */
final class DeliveryTest extends TestCase
{
    private const UUID = '/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/';
    private const ISO_UTC = '/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/';

    private Project $project;
    private Stored $stored;
    private string $uid;
    private ?FaultProxy $proxy = null;

    protected function setUp(): void
    {
        [$this->project, $this->stored] = $this->sharedProject();
        $this->uid = $this->uniqueUid();
    }

    protected function tearDown(): void
    {
        $this->proxy?->close();
    }

    private function proxy(): FaultProxy
    {
        return $this->proxy ??= new FaultProxy($this->server()->port, self::workdir());
    }

    /**
     * Stop the server process, send, start it again on the same database. The sending is a
     * PHP request of its own that ends while the server is down: its shutdown flush retries
     * until the server is back.
     */
    public function testAServerDownDuringASendIsRetriedAndNothingIsLostOrDuplicated(): void
    {
        $own = self::newServer();
        try {
            [$project, $stored] = $this->newProject($own);
            $own->stop();
            $script = $this->startScript(<<<'PHP'
                Salesmachine::init(getenv('TOKEN'), getenv('SECRET'), array(
                    'host' => getenv('HOST'), 'backoff_base' => 0.05, 'backoff_cap' => 0.2, 'max_retries' => 300,
                    'logger' => function ($level, $message) { fwrite(STDERR, "$level $message\n"); },
                ));
                Salesmachine::set_contact("123456", array('email' => 'elon@teslamotors.com', 'account_uid' => '78910'));
                Salesmachine::set_account("78910", array('name' => 'Tesla Motors', 'employee_count' => 12000, 'mrr' => 12000));
                Salesmachine::track_event("123456", "user_registration",
                    array('account_uid' => '78910', 'display_name' => 'Registration'));
                Salesmachine::track_pageview("123456", array('visit_url' => 'http://myproduct.com/onboarding'));
                PHP, ['TOKEN' => $project->token, 'SECRET' => $project->secret, 'HOST' => $own->url()]);
            $this->waitUntil('a failed attempt', static fn () => str_contains($script->stderr(), 'retry'));

            $own->start();
            $this->assertSame(0, $script->wait(30), $script->stderr());
            $this->assertStringNotContainsString('not stored', $script->stderr());
            $this->assertCount(4, $stored->messageIds(), 'every message stored once');
            $this->assertSame(['user_registration', 'pageview'], array_column($stored->events(), 'name'));
            $this->assertSame(['name' => 'Tesla Motors', 'employee_count' => 12000, 'mrr' => 12000],
                $stored->account('78910')['params']);
            $this->assertSame(['78910'], $stored->contact('123456')['accounts']);
        } finally {
            $own->close();
        }
    }

    /**
     * The server stored the batch but the answer was lost (the client timed out): the client
     * sends the same items again, and the server acknowledges them without storing them twice.
     */
    public function testALostAnswerIsResentWithTheSameMessageIdsAndStoredOnce(): void
    {
        $this->proxy()->dropNext(2.0);
        $client = $this->clientFor($this->project, ['host' => $this->proxy()->url(), 'timeout' => 0.5]);
        foreach ([0, 1, 2] as $i) {
            $client->track_event($this->uid, "step_{$i}");
        }
        $this->assertTrue($client->flush());

        [$first, $second] = $this->proxy()->requests();
        $this->assertSame(['dropped', 201], [$first['status'], $second['status']]);
        $this->assertSame(array_column($first['items'], 'messageId'), array_column($second['items'], 'messageId'));
        $withoutSentAt = static fn (array $items) => array_map(static fn ($i) => array_diff_key($i, ['sent_at' => 1]), $items);
        $this->assertSame($withoutSentAt($first['items']), $withoutSentAt($second['items']));
        $events = $this->stored->events($this->uid);
        $this->assertSame(['step_0', 'step_1', 'step_2'], array_column($events, 'name'));
        $this->assertSame(array_column($first['items'], 'messageId'), array_column($events, 'message_id'));
    }

    public function test429IsRetriedAfterTheServersRetryAfter(): void
    {
        $this->proxy()->failNext(1, 429, '1');
        $client = $this->clientFor($this->project, ['host' => $this->proxy()->url()]);
        $client->track_event($this->uid, 'slow_down');
        $this->assertTrue($client->flush());

        [$first, $second] = $this->proxy()->requests();
        $this->assertSame([429, 201], [$first['status'], $second['status']]);
        $this->assertGreaterThanOrEqual(0.95, $second['at'] - $first['at'], 'Retry-After: 1 is honoured over the 20 ms backoff');
        $this->assertSame(['slow_down'], array_column($this->stored->events($this->uid), 'name'));
    }

    public function test5xxAnswersAreRetriedWithBackoff(): void
    {
        $this->proxy()->failNext(2, 503);
        $this->proxy()->failNext(1, 500);
        $client = $this->clientFor($this->project, ['host' => $this->proxy()->url()]);
        $client->set_contact($this->uid, ['name' => 'Retried']);
        $this->assertTrue($client->flush());

        $requests = $this->proxy()->requests();
        $this->assertSame([503, 503, 500, 201], array_column($requests, 'status'));
        $this->assertCount(1, array_unique(array_map(static fn ($r) => $r['items'][0]['messageId'], $requests)));
        $this->assertSame(['name' => 'Retried'], $this->stored->contact($this->uid)['params']);
        $this->assertCount(3, preg_grep('/retry \d+ of/', $this->logged));
    }

    public function testARefusedBatchGoesToOnErrorAndIsNotRetried(): void
    {
        $this->proxy()->failNext(1, 400);
        $errors = [];
        $client = $this->clientFor($this->project, ['host' => $this->proxy()->url(),
            'on_error' => function (int $status, string $message, array $messages) use (&$errors): void {
                $errors[] = [$status, $message, $messages];
            }]);
        $client->track_event($this->uid, 'refused');
        $this->assertFalse($client->flush());

        $this->assertCount(1, $errors);
        [$status, $message, $messages] = $errors[0];
        $this->assertSame(400, $status);
        $this->assertStringContainsString('injected 400', $message);
        $this->assertSame([[$this->uid, 'refused']], array_map(static fn ($m) => [$m['contact_uid'], $m['event_uid']], $messages));
        $this->assertCount(1, $this->proxy()->requests());
        $this->assertSame([], $this->stored->events($this->uid));
    }

    public function testRetriesThatRunOutAreReported(): void
    {
        $this->proxy()->failNext(3, 503);
        $errors = [];
        $client = $this->clientFor($this->project, ['host' => $this->proxy()->url(), 'max_retries' => 2,
            'on_error' => function (int $status) use (&$errors): void {
                $errors[] = $status;
            }]);
        $client->track_event($this->uid, 'lost');
        $this->assertFalse($client->flush());

        $this->assertSame([503], $errors);
        $this->assertCount(3, $this->proxy()->requests());
        $this->assertNotEmpty(preg_grep('/^error 1 message\(s\) not stored/', $this->logged));
    }

    public function testItemsTheServerRejectsInAStoredBatchAreReportedAlone(): void
    {
        $this->proxy()->answerNext(201, ['status' => 'success', 'accepted' => 1,
            'rejected' => [['index' => 1, 'code' => 'bad_request', 'message' => 'params.mrr must be a number']]]);
        $errors = [];
        $client = $this->clientFor($this->project, ['host' => $this->proxy()->url(),
            'on_error' => function (int $status, string $message, array $messages) use (&$errors): void {
                $errors[] = [$status, $message, array_column($messages, 'event_uid')];
            }]);
        $client->track_event($this->uid, 'good');
        $client->track_event($this->uid, 'bad');
        $this->assertFalse($client->flush());

        $this->assertCount(1, $errors);
        $this->assertSame(201, $errors[0][0]);
        $this->assertStringContainsString('params.mrr must be a number', $errors[0][1]);
        $this->assertSame(['bad'], $errors[0][2]);
    }

    public function testMessagesAreSentInBatchesEachItemStamped(): void
    {
        $client = $this->clientFor($this->project, ['host' => $this->proxy()->url(), 'batch_size' => 10]);
        for ($i = 0; $i < 25; $i++) {
            $client->track_event($this->uid, "e{$i}");
        }
        $this->assertCount(2, $this->proxy()->requests(), 'a full batch is sent at once');
        $this->assertSame(5, $client->queued());
        $this->assertTrue($client->flush());

        $batches = array_column($this->proxy()->requests(), 'items');
        $this->assertSame([10, 10, 5], array_map('count', $batches));
        $items = array_merge(...$batches);
        $this->assertCount(25, array_unique(array_column($items, 'messageId')));
        foreach ($items as $item) {
            $keys = array_keys($item);
            sort($keys);
            $this->assertSame(['contact_uid', 'created_at', 'event_uid', 'messageId', 'method', 'params', 'sent_at'], $keys);
            $this->assertSame('event', $item['method']);
            $this->assertMatchesRegularExpression(self::UUID, $item['messageId']);
            $this->assertMatchesRegularExpression(self::ISO_UTC, $item['created_at']);
            $this->assertMatchesRegularExpression(self::ISO_UTC, $item['sent_at']);
        }
        $this->assertSame(array_map(static fn ($i) => "e{$i}", range(0, 24)), array_column($this->stored->events($this->uid), 'name'));
    }

    /** The legacy library's `use_buffer => false`: every call is sent at once. */
    public function testWithoutBufferEachCallIsSentAtOnce(): void
    {
        $client = $this->clientFor($this->project, ['host' => $this->proxy()->url(), 'use_buffer' => false]);
        $client->track_event($this->uid, 'first');
        $this->assertCount(1, $this->proxy()->requests());
        $client->track_event($this->uid, 'second');
        $this->assertSame([1, 1], array_map('count', array_column($this->proxy()->requests(), 'items')));
    }

    public function testBasicAuthIsTokenAndSecret(): void
    {
        $client = $this->clientFor($this->project, ['host' => $this->proxy()->url()]);
        $client->track_event($this->uid, 'with_secret');
        $this->assertTrue($client->flush());
        $tokenOnly = new \Salesmachine\Client($this->project->token, null, ['host' => $this->proxy()->url()]);
        $tokenOnly->track_event($this->uid, 'token_only');
        $this->assertTrue($tokenOnly->flush());

        $this->assertSame([[$this->project->token, $this->project->secret], [$this->project->token, '']],
            array_column($this->proxy()->requests(), 'credentials'));
        $this->assertSame(['with_secret', 'token_only'], array_column($this->stored->events($this->uid), 'name'));
    }

    public function testAWrongSecretIsReportedNotRetried(): void
    {
        $errors = [];
        $client = $this->clientFor($this->project, ['host' => $this->proxy()->url(),
            'on_error' => function (int $status) use (&$errors): void {
                $errors[] = $status;
            }], secret: 'not-the-secret');
        $client->track_event($this->uid, 'unauthorized');
        $this->assertFalse($client->flush());

        $this->assertSame([401], $errors);
        $this->assertCount(1, $this->proxy()->requests());
    }

    /** A request that tracks and ends without calling flush: the shutdown function sends. */
    public function testTheQueueIsFlushedWhenTheRequestEnds(): void
    {
        $script = $this->startScript(<<<'PHP'
            Salesmachine::init(getenv('TOKEN'), getenv('SECRET'), array('host' => getenv('HOST')));
            for ($i = 0; $i < 20; $i++) {
                Salesmachine::track_event(getenv('UID'), "at_shutdown_$i");
            }
            PHP, ['TOKEN' => $this->project->token, 'SECRET' => $this->project->secret, 'HOST' => $this->server()->url(),
            'UID' => $this->uid]);
        $this->assertSame(0, $script->wait(30), $script->stderr());

        $this->assertSame(array_map(static fn ($i) => "at_shutdown_{$i}", range(0, 19)),
            array_column($this->stored->events($this->uid), 'name'));
    }

    public function testCreatedAtIsWhenItHappened(): void
    {
        $client = $this->clientFor($this->project);
        $client->track_event($this->uid, 'back_then', [], ['created_at' => new \DateTimeImmutable('2020-01-02T03:04:05Z')]);
        $this->assertTrue($client->flush());

        $occurred = new \DateTimeImmutable($this->stored->events($this->uid)[0]['occurred_at'], new \DateTimeZone('UTC'));
        $this->assertEqualsWithDelta((new \DateTimeImmutable('2020-01-02T03:04:05Z'))->getTimestamp(), $occurred->getTimestamp(), 2);
    }

    public function testParamsAreStoredAsJsonValues(): void
    {
        $client = $this->clientFor($this->project);
        $client->set_contact($this->uid, [
            'registered_at' => new \DateTimeImmutable('2021-05-06T09:08:09+02:00'),
            'tags' => ['a', 'b'],
            'nested' => ['deep' => [1, 2.5, null, true]],
            'empty_list' => [],
            'mrr' => 10.0,
        ]);
        $this->assertTrue($client->flush());

        $this->assertSame(['registered_at' => '2021-05-06T07:08:09.000Z', 'tags' => ['a', 'b'],
            'nested' => ['deep' => [1, 2.5, null, true]], 'empty_list' => [], 'mrr' => 10.0],
            $this->stored->contact($this->uid)['params']);
    }
}
