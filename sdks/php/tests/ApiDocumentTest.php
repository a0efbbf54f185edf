<?php

declare(strict_types=1);

namespace Salesmachine\Tests;

use Salesmachine;
use Salesmachine\Tests\Support\Stored;
use Salesmachine\Tests\Support\TestCase;

/**
 * The API document's PHP examples, copied as written but for the token and the host (the
 * host comes from SALESMACHINE_HOST, so the document's init line runs unchanged). The one
 * change: the document's set_account example writes `'website_url': '...'`, a syntax error
 * in PHP; it is written `'website_url' => '...'` here, as the README says.
 */
final class ApiDocumentTest extends TestCase
{
    private Stored $stored;

    protected function setUp(): void
    {
        [$project, $this->stored] = $this->newProject();
        putenv('SALESMACHINE_HOST=' . $this->server()->url());
        $YOUR_API_TOKEN = $project->token;
        $YOUR_API_SECRET = $project->secret;

        Salesmachine::init($YOUR_API_TOKEN, $YOUR_API_SECRET);
    }

    protected function tearDown(): void
    {
        putenv('SALESMACHINE_HOST');
    }

    public function testSetContact(): void
    {
        Salesmachine::set_contact("123456", array(
        'email' => 'elon@teslamotors.com',
        'name' => 'Elon Musk',
        'gender' => 'male',
        'mrr' => 99,
        'account_uid' => '78910'
        ));
        $this->assertTrue(Salesmachine::flush());

        $contact = $this->stored->contact('123456');
        $this->assertSame(['email' => 'elon@teslamotors.com', 'name' => 'Elon Musk', 'gender' => 'male', 'mrr' => 99],
            $contact['params'], 'account_uid becomes a membership, the rest is stored as sent');
        $this->assertSame(['78910'], $contact['accounts']);
        $this->assertSame(['123456'], $this->stored->account('78910')['contacts']);
    }

    public function testSetAccount(): void
    {
        Salesmachine::set_account("78910", array(
        'name' => 'Tesla Motors',
        'employee_count' => 12000,
        'website_url' => 'http://www.teslamotors.com',
        'mrr'=> 12000
        ));
        $this->assertTrue(Salesmachine::flush());

        $this->assertSame(['name' => 'Tesla Motors', 'employee_count' => 12000, 'website_url' => 'http://www.teslamotors.com',
            'mrr' => 12000], $this->stored->account('78910')['params']);
    }

    public function testTrackEvent(): void
    {
        Salesmachine::track_event(
        "123456",
        "user_registration",
        array(
        'account_uid' => '78910',
        'display_name' => 'Registration'
        )
        );
        $this->assertTrue(Salesmachine::flush());

        $events = $this->stored->events();
        $this->assertCount(1, $events);
        $this->assertSame(['name' => 'user_registration', 'kind' => 'event', 'contact_uid' => '123456', 'account_uid' => '78910'],
            array_intersect_key($events[0], array_flip(['name', 'kind', 'contact_uid', 'account_uid'])));
        $this->assertSame(['account_uid' => '78910', 'display_name' => 'Registration'], $events[0]['params']);
        $this->assertMatchesRegularExpression('/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/',
            $events[0]['message_id'], 'each message carries a uuid');
    }

    public function testTrackPageview(): void
    {
        Salesmachine::track_pageview(
        "123456",
        array(
        'visit_url' => 'http://myproduct.com/onboarding',
        'visit_ip' => 'XX.XX.XX.XX',
        'visit_agent' => 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/43.0.2357.130 Safari/537.36'
        ));
        $this->assertTrue(Salesmachine::flush());

        $events = $this->stored->events();
        $this->assertCount(1, $events);
        $this->assertSame(['pageview', 'pageview', '123456'], [$events[0]['name'], $events[0]['kind'], $events[0]['contact_uid']]);
        $this->assertSame(['visit_url' => 'http://myproduct.com/onboarding', 'visit_ip' => 'XX.XX.XX.XX',
            'visit_agent' => 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/43.0.2357.130 '
                . 'Safari/537.36'], $events[0]['params']);
    }

    /**
     * The document gives alias as an HTTP call only ({"contact_uid":"123456", "alias":"789"});
     * the library sends the same through the batch.
     */
    public function testAlias(): void
    {
        Salesmachine::set_contact("123456", array('email' => 'elon@teslamotors.com'));
        Salesmachine::set_contact("789", array('name' => 'Elon Musk'));
        Salesmachine::alias("123456", "789");
        $this->assertTrue(Salesmachine::flush());

        $contact = $this->stored->contact('789');
        $this->assertSame(['123456', '789'], $contact['uids']);
        $this->assertEqualsCanonicalizing(['email' => 'elon@teslamotors.com', 'name' => 'Elon Musk'], $contact['params']);
        $this->assertSame(1, $this->stored->count('contacts'));
    }

    /**
     * The whole document in order, as one request would run it, sent when the request ends:
     * every call arrives once, in one batch, with contact, account, event and pageview tied.
     */
    public function testEveryExampleInOrderIsSentInOneBatchAtTheEndOfTheRequest(): void
    {
        $stored = $this->stored;
        $script = $this->startScript(<<<'PHP'
            Salesmachine::init(getenv('TOKEN'), getenv('SECRET'));
            Salesmachine::set_contact("123456", array(
            'email' => 'elon@teslamotors.com',
            'name' => 'Elon Musk',
            'gender' => 'male',
            'mrr' => 99,
            'account_uid' => '78910'
            ));
            Salesmachine::set_account("78910", array(
            'name' => 'Tesla Motors',
            'employee_count' => 12000,
            'website_url' => 'http://www.teslamotors.com',
            'mrr'=> 12000
            ));
            Salesmachine::track_event(
            "123456",
            "user_registration",
            array(
            'account_uid' => '78910',
            'display_name' => 'Registration'
            )
            );
            Salesmachine::track_pageview(
            "123456",
            array(
            'visit_url' => 'http://myproduct.com/onboarding',
            'visit_ip' => 'XX.XX.XX.XX',
            'visit_agent' => 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/43.0.2357.130 Safari/537.36'
            ));
            echo Salesmachine::client()->queued();
            PHP, ['TOKEN' => Salesmachine::client()->config->token, 'SECRET' => (string) Salesmachine::client()->config->secret,
            'SALESMACHINE_HOST' => $this->server()->url()]);
        $this->assertSame(0, $script->wait(30), $script->stderr());
        $this->assertSame('4', $script->stdout(), 'nothing is sent before the request ends');

        $this->assertCount(4, $stored->messageIds());
        $this->assertSame(['user_registration', 'pageview'], array_column($stored->events(), 'name'));
        $this->assertSame(['78910', '78910'], array_column($stored->events(), 'account_uid'),
            'the pageview is the contact\'s only account\'s');
        $this->assertSame(['78910'], $stored->contact('123456')['accounts']);
        $this->assertSame('Tesla Motors', $stored->account('78910')['params']['name']);
    }
}
