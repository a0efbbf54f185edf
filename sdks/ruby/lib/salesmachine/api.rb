# frozen_string_literal: true

require 'salesmachine/backoff'
require 'salesmachine/codec'
require 'salesmachine/config'
require 'salesmachine/exit_flush'
require 'salesmachine/messages'
require 'salesmachine/sender'
require 'salesmachine/transport'
require 'salesmachine/worker'

module Salesmachine
  # The client of the API document:
  #
  #   $smclient = Salesmachine::Api.new :api_key => YOUR_API_TOKEN
  #   $smclient.contact :contact_uid => "123456", :params => { :email => "elon@teslamotors.com" }
  #
  # Each call checks its arguments (raising ArgumentError at the call), queues the message
  # and returns true, or false when the queue is full. A background thread sends the queue
  # in batches; `flush` waits for it; the program's exit flushes too.
  class Api
    attr_reader :config

    # Options (Symbol or String keys):
    #   :api_key         your project token (required)
    #   :api_secret      your project secret; sent as the Basic password (else the token)
    #   :host            the server, e.g. "https://sm.example.com" (default: $SALESMACHINE_HOST,
    #                    else http://127.0.0.1:8080)
    #   :batch_size      messages per request (100); :max_queue_size (10000)
    #   :max_retries     (10), :backoff_base (0.5 s), :backoff_cap (30 s), :timeout (10 s)
    #   :exit_timeout    how long the program's exit waits for the queue to empty (10 s)
    #   :on_error        called as (status, message, messages) for what will not be stored
    #   :logger          a Logger (default: warnings to $stderr)
    def initialize(options = {})
      @config = Config.new(options)
      transport = Transport.new(@config.url, @config.api_key, @config.api_secret, @config.timeout)
      sender = Sender.new(transport, Backoff.new(@config.backoff_base, @config.backoff_cap),
                          max_retries: @config.max_retries, logger: @config.logger, on_error: @config.on_error)
      @worker = Worker.new(sender, batch_size: @config.batch_size, max_batch_bytes: Config::MAX_BATCH_BYTES,
                                   max_queue_size: @config.max_queue_size, exit_timeout: @config.exit_timeout,
                                   logger: @config.logger)
      ExitFlush.register(@worker)
    end

    # Create or update a contact: :contact_uid, :params (an `account_uid` param links the
    # contact to that account).
    def contact(attrs)
      enqueue(Messages.contact(attrs))
    end

    # Create or update an account: :account_uid, :params.
    def account(attrs)
      enqueue(Messages.account(attrs))
    end

    # Record an event: :contact_uid, :event (or :event_uid), :params.
    def track(attrs)
      enqueue(Messages.track(attrs))
    end

    # Record a pageview: :contact_uid, :params (visit_url, visit_ip, visit_agent...).
    def pageview(attrs)
      enqueue(Messages.pageview(attrs))
    end

    # Merge two contacts: :contact_uid, :alias.
    def alias(attrs)
      enqueue(Messages.alias(attrs))
    end

    # Block until every message queued so far is sent (or reported to on_error). Returns
    # false if `timeout` seconds ran out first.
    def flush(timeout: nil)
      @worker.flush(timeout)
    end

    # Messages queued and not yet taken into a batch.
    def queued_messages
      @worker.queued
    end

    private

    def enqueue(message)
      json = Codec.encode(message)
      if json.bytesize > Config::MAX_MESSAGE_BYTES
        raise ArgumentError, "message is #{json.bytesize} bytes as JSON; the server takes at most #{Config::MAX_MESSAGE_BYTES}"
      end

      return true if @worker.push(Sender::Item.new(message, json))

      @config.logger.warn("queue full (#{@config.max_queue_size} messages): #{message[:method]} #{message[:messageId]} dropped")
      false
    end
  end
end
