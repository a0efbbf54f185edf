# frozen_string_literal: true

module Salesmachine
  # The bounded queue and the background thread that empties it, one batch at a time.
  #
  # A call returns as soon as its message is queued; the thread sends whatever has piled up
  # (at most batch_size items and Config::MAX_BATCH_BYTES) in one `POST /v1/batch`, so a busy
  # application sends few, large requests and a quiet one sends at once. `pending` counts
  # messages queued or in flight, which is what `flush` waits on.
  class Worker
    # What the program's exit needs to flush this worker (see ExitFlush).
    attr_reader :exit_timeout, :logger

    def initialize(sender, batch_size:, max_batch_bytes:, max_queue_size:, exit_timeout:, logger:)
      @sender = sender
      @exit_timeout = exit_timeout
      @logger = logger
      @batch_size = batch_size
      @max_batch_bytes = max_batch_bytes
      @max_queue_size = max_queue_size
      @mutex = Mutex.new
      @changed = ConditionVariable.new
      @queue = []
      @pending = 0
      @thread = nil
      @pid = Process.pid
    end

    # Queue one Sender::Item; false when the queue is full (the message is dropped).
    def push(item)
      @mutex.synchronize do
        forget_parent_after_fork
        return false if @queue.size >= @max_queue_size

        @queue << item
        @pending += 1
        start_thread
        @changed.broadcast
      end
      true
    end

    # Wait until everything queued so far is sent (or given up on). With a timeout, returns
    # false if it ran out first.
    def flush(timeout = nil)
      # From on_error or a logger, on the worker thread itself: waiting would never end.
      return false if Thread.current == @thread

      deadline = timeout && (monotonic + timeout)
      @mutex.synchronize do
        forget_parent_after_fork
        start_thread unless @pending.zero?
        until @pending.zero?
          remaining = deadline && (deadline - monotonic)
          return false if remaining && remaining <= 0

          @changed.wait(@mutex, remaining)
        end
      end
      true
    end

    def queued
      @mutex.synchronize { @queue.size }
    end

    def pending
      @mutex.synchronize { @pending }
    end

    private

    def run
      loop do
        batch = @mutex.synchronize do
          @changed.wait(@mutex) while @queue.empty?
          take_batch
        end
        begin
          @sender.deliver(batch)
        ensure
          # Also when the thread is killed mid-send, so that flush does not wait forever.
          @mutex.synchronize do
            @pending -= batch.size
            @changed.broadcast
          end
        end
      end
    end

    def take_batch
      batch = [@queue.shift]
      bytes = batch.first.json.bytesize
      while !@queue.empty? && batch.size < @batch_size && bytes + @queue.first.json.bytesize <= @max_batch_bytes
        bytes += @queue.first.json.bytesize
        batch << @queue.shift
      end
      batch
    end

    def start_thread
      return if @thread&.alive?

      @thread = Thread.new { run }
      @thread.name = 'salesmachine-worker'
      @thread.report_on_exception = false
    end

    # A forked child (Puma, Unicorn, Resque) inherits the queue but not the thread: what is
    # queued is the parent's to send, so the child starts empty rather than sending it twice.
    def forget_parent_after_fork
      return if @pid == Process.pid

      @pid = Process.pid
      @queue.clear
      @pending = 0
      @thread = nil
    end

    def monotonic
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end
  end
end
