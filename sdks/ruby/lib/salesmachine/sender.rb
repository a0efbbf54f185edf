# frozen_string_literal: true

require 'salesmachine/codec'
require 'salesmachine/errors'

module Salesmachine
  # Getting one batch to the server: retries, backoff, and who hears about a loss.
  #
  # Every attempt carries the very same items (same messageId), so a batch the server
  # stored but whose answer was lost is not stored twice; only `sent_at` is renewed, because
  # the server subtracts it from its own clock to correct the client's.
  class Sender
    # A message as queued: the Hash (for on_error) and its JSON, encoded once at the call.
    Item = Struct.new(:message, :json)

    def initialize(transport, backoff, max_retries:, logger:, on_error: nil, sleeper: Kernel.method(:sleep))
      @transport = transport
      @backoff = backoff
      @max_retries = max_retries
      @logger = logger
      @on_error = on_error
      @sleeper = sleeper
    end

    # The bare JSON array the document's /v1/batch takes, each item stamped with `sent_at`.
    def self.body(items, sent_at)
      "[#{items.map { |item| Codec.stamp_sent_at(item.json, sent_at) }.join(',')}]"
    end

    # Send until acknowledged, refused for good, or out of retries. Never raises: whatever
    # is not stored goes to on_error and the log.
    def deliver(items)
      answer = send_with_retries(items)
      report_rejections(answer, items)
    rescue Error => e
      report(e, items.map(&:message))
    rescue StandardError => e
      # An unforeseen fault loses this batch, not the worker thread.
      @logger.error("unexpected #{e.class} sending #{items.size} message(s): #{e.message}")
      report(e, items.map(&:message))
    end

    private

    def send_with_retries(items)
      retry_number = 0
      begin
        answer = @transport.post(self.class.body(items, Codec.now))
        @logger.debug("sent #{items.size} message(s): #{answer.status} #{answer.body}")
        answer
      rescue Error => e
        raise if !e.retryable? || retry_number >= @max_retries

        wait = @backoff.delay(retry_number, e.respond_to?(:retry_after) ? e.retry_after : nil)
        retry_number += 1
        @logger.warn(format('sending %d message(s) failed (%s); retry %d of %d in %.2fs',
                            items.size, e.message, retry_number, @max_retries, wait))
        @sleeper.call(wait)
        retry
      end
    end

    # A 201 may still name items the server refused: those go to on_error, alone.
    def report_rejections(answer, items)
      rejected = answer.rejected
      return if rejected.empty?

      refused = rejected.filter_map do |entry|
        index = entry['index']
        items[index].message if index.is_a?(Integer) && index.between?(0, items.size - 1)
      end
      report(RejectedItems.new(rejected), refused)
    end

    # on_error is called as (status, message, messages): the legacy gem's handlers took
    # (status, error) and still work, since a proc ignores the arguments it does not name.
    def report(error, messages)
      @logger.error("#{messages.size} message(s) not stored: #{error.message}")
      return if @on_error.nil?

      status = error.is_a?(Error) ? error.status : -1
      args = [status, error.message, messages]
      arity = @on_error.respond_to?(:arity) ? @on_error.arity : -1
      @on_error.call(*(arity.negative? ? args : args.first(arity)))
    rescue StandardError => e
      @logger.error("on_error raised #{e.class}: #{e.message}")
    end
  end
end
