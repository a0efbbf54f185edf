<?php

declare(strict_types=1);

namespace Salesmachine;

/**
 * Getting one batch to the server: retries, backoff, and who hears about a loss.
 *
 * Every attempt carries the very same items (same messageId), so a batch the server stored
 * but whose answer was lost is not stored twice; only `sent_at` is renewed, because the
 * server subtracts it from its own clock to correct the client's.
 */
final class Sender
{
    /** @var callable(float): void */
    private $sleep;

    public function __construct(
        private readonly Transport $transport,
        private readonly Backoff $backoff,
        private readonly Config $config,
        ?callable $sleep = null,
    ) {
        $this->sleep = $sleep ?? static function (float $seconds): void {
            usleep((int) round($seconds * 1_000_000));
        };
    }

    /**
     * The bare JSON array the document's /v1/batch takes, each item stamped with `sent_at`.
     *
     * @param list<Item> $items
     */
    public static function body(array $items, string $sentAt): string
    {
        return '[' . implode(',', array_map(static fn (Item $i) => Codec::stampSentAt($i->json, $sentAt), $items)) . ']';
    }

    /**
     * Send until acknowledged, refused for good, or out of retries. Never throws: whatever
     * is not stored goes to on_error and the log. Returns whether the whole batch was stored.
     *
     * @param list<Item> $items
     */
    public function deliver(array $items): bool
    {
        try {
            $answer = $this->sendWithRetries($items);
        } catch (Error $e) {
            $this->report($e, $items);
            return false;
        } catch (\Throwable $e) {
            // An unforeseen fault loses this batch, not the application's request.
            $this->log('error', 'unexpected ' . get_class($e) . ' sending ' . count($items) . ' message(s): ' . $e->getMessage());
            $this->report($e, $items);
            return false;
        }
        return $this->reportRejections($answer, $items);
    }

    /** @param list<Item> $items */
    private function sendWithRetries(array $items): Answer
    {
        $retry = 0;
        while (true) {
            try {
                $answer = $this->transport->post(self::body($items, Codec::now()));
                $this->log('debug', 'sent ' . count($items) . " message(s): {$answer->status}");
                return $answer;
            } catch (Error $e) {
                if (!$e->retryable() || $retry >= $this->config->maxRetries) {
                    throw $e;
                }
                $wait = $this->backoff->delay($retry, $e instanceof ApiError ? $e->retryAfter : null);
                $retry++;
                $this->log('warning', sprintf('sending %d message(s) failed (%s); retry %d of %d in %.2fs',
                    count($items), $e->getMessage(), $retry, $this->config->maxRetries, $wait));
                ($this->sleep)($wait);
            }
        }
    }

    /**
     * A 201 may still name items the server refused: those go to on_error, alone.
     *
     * @param list<Item> $items
     */
    private function reportRejections(Answer $answer, array $items): bool
    {
        $rejected = $answer->rejected();
        if ($rejected === []) {
            return true;
        }
        $refused = [];
        foreach ($rejected as $entry) {
            $index = $entry['index'] ?? null;
            if (is_int($index) && isset($items[$index])) {
                $refused[] = $items[$index];
            }
        }
        $this->report(new RejectedItems($rejected), $refused);
        return false;
    }

    /**
     * on_error is called as (status, message, messages); status is -1 when no answer came.
     *
     * @param list<Item> $items
     */
    private function report(\Throwable $error, array $items): void
    {
        $this->log('error', count($items) . ' message(s) not stored: ' . $error->getMessage());
        if ($this->config->onError === null) {
            return;
        }
        try {
            ($this->config->onError)(
                $error instanceof Error ? $error->status() : -1,
                $error->getMessage(),
                array_map(static fn (Item $i) => $i->message, $items),
            );
        } catch (\Throwable $e) {
            $this->log('error', 'on_error threw ' . get_class($e) . ': ' . $e->getMessage());
        }
    }

    private function log(string $level, string $message): void
    {
        ($this->config->logger)($level, $message);
    }
}
