<?php

declare(strict_types=1);

namespace Salesmachine;

/**
 * The client behind the static `Salesmachine` class; usable on its own too, e.g. one per
 * project. Calls are queued for the rest of the PHP request and sent in batches: when
 * `batch_size` messages are waiting, on `flush()`, and when the request ends (a shutdown
 * function), so a page that tracks a few things makes one request to the server, at the end.
 */
final class Client
{
    public readonly Config $config;
    private readonly Sender $sender;
    /** @var list<Item> */
    private array $queue = [];
    private bool $flushing = false;
    private int $pid;

    /**
     * Options: host (default $SALESMACHINE_HOST, else http://127.0.0.1:8080), batch_size (100),
     * max_queue_size (10000), max_retries (5), backoff_base (0.25 s), backoff_cap (8 s),
     * timeout (10 s), connect_timeout (5 s), on_error (callable(int $status, string $message,
     * array $messages)), logger (callable(string $level, string $message)), and the legacy
     * library's use_buffer (true; false sends each call at once), use_https (false; the scheme
     * of a host given without one) and debug (false; log every request).
     *
     * @param array<string, mixed> $options
     */
    public function __construct(string $token, ?string $secret = null, array $options = [])
    {
        $this->config = new Config($token, $secret, $options);
        $transport = new Transport($this->config->url, $token, $secret, $this->config->timeout, $this->config->connectTimeout);
        $this->sender = new Sender($transport, new Backoff($this->config->backoffBase, $this->config->backoffCap), $this->config);
        $this->pid = getmypid() ?: 0;
        register_shutdown_function([$this, 'flushAtShutdown']);
    }

    /**
     * Create or update a contact. An `account_uid` param adds the contact to that account.
     *
     * @param array<mixed> $params
     * @param array<string, mixed> $options created_at, message_id
     */
    public function set_contact(mixed $contact_uid, array $params = [], array $options = []): bool
    {
        return $this->enqueue(Messages::contact($contact_uid, $params, $options));
    }

    /** @param array<mixed> $params @param array<string, mixed> $options */
    public function set_account(mixed $account_uid, array $params = [], array $options = []): bool
    {
        return $this->enqueue(Messages::account($account_uid, $params, $options));
    }

    /** @param array<mixed> $params @param array<string, mixed> $options */
    public function track_event(mixed $contact_uid, mixed $event_uid, array $params = [], array $options = []): bool
    {
        return $this->enqueue(Messages::event($contact_uid, $event_uid, $params, $options));
    }

    /** @param array<mixed> $params @param array<string, mixed> $options */
    public function track_pageview(mixed $contact_uid, array $params = [], array $options = []): bool
    {
        return $this->enqueue(Messages::pageview($contact_uid, $params, $options));
    }

    /** Merge two contacts: from then on both uids name one contact. @param array<string, mixed> $options */
    public function alias(mixed $contact_uid, mixed $alias, array $options = []): bool
    {
        return $this->enqueue(Messages::alias($contact_uid, $alias, $options));
    }

    /**
     * Send everything queued, in batches, each retried as configured. Returns whether all of
     * it was stored; what was not went to on_error and the log.
     */
    public function flush(): bool
    {
        $this->forgetParentAfterFork();
        if ($this->flushing) {
            // Called from on_error or a logger during a flush: the running flush sends it.
            return false;
        }
        $this->flushing = true;
        $stored = true;
        try {
            while ($this->queue !== []) {
                $stored = $this->sender->deliver($this->takeBatch()) && $stored;
            }
        } finally {
            $this->flushing = false;
        }
        return $stored;
    }

    /** The shutdown function: like flush, but nothing it meets may escape into PHP's shutdown. */
    public function flushAtShutdown(): void
    {
        try {
            $this->flush();
        } catch (\Throwable $e) {
            error_log('salesmachine error: flush at shutdown failed: ' . $e->getMessage());
        }
    }

    /** Messages queued and not yet sent. */
    public function queued(): int
    {
        return count($this->queue);
    }

    /** @param array<string, mixed> $message */
    private function enqueue(array $message): bool
    {
        $json = Codec::encode($message);
        if (strlen($json) > Config::MAX_MESSAGE_BYTES) {
            throw new \InvalidArgumentException(
                'message is ' . strlen($json) . ' bytes as JSON; the server takes at most ' . Config::MAX_MESSAGE_BYTES
            );
        }
        $this->forgetParentAfterFork();
        if (count($this->queue) >= $this->config->maxQueueSize) {
            ($this->config->logger)('warning', "queue full ({$this->config->maxQueueSize} messages): "
                . "{$message['method']} {$message['messageId']} dropped");
            return false;
        }
        $this->queue[] = new Item($message, $json);
        if (count($this->queue) >= $this->config->batchSize && !$this->flushing) {
            $this->flush();
        }
        return true;
    }

    /** @return list<Item> at most batch_size items and Config::MAX_BATCH_BYTES of JSON */
    private function takeBatch(): array
    {
        $batch = [array_shift($this->queue)];
        $bytes = strlen($batch[0]->json);
        while ($this->queue !== [] && count($batch) < $this->config->batchSize
            && $bytes + strlen($this->queue[0]->json) <= Config::MAX_BATCH_BYTES) {
            $bytes += strlen($this->queue[0]->json);
            $batch[] = array_shift($this->queue);
        }
        return $batch;
    }

    /**
     * A child of pcntl_fork inherits the queue: it is the parent's to send, so the child
     * starts empty rather than sending it twice.
     */
    private function forgetParentAfterFork(): void
    {
        $pid = getmypid() ?: 0;
        if ($pid !== $this->pid) {
            $this->pid = $pid;
            $this->queue = [];
        }
    }
}
