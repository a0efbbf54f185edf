# frozen_string_literal: true

module Salesmachine
  # Sends what is still queued when the program ends, so a script that tracks and exits
  # loses nothing. One at_exit hook for the process, over every live worker; workers are
  # held weakly so that a client the application drops can still be collected (a worker with
  # messages to send is kept alive by its own thread).
  module ExitFlush
    # WeakMap holds its values weakly too: the value is `true`, which is never collected, and
    # what the flush needs (its timeout, the logger) lives on the worker.
    @workers = ObjectSpace::WeakMap.new
    @lock = Mutex.new

    class << self
      def register(worker)
        @lock.synchronize { @workers[worker] = true }
      end

      def run
        workers = []
        @lock.synchronize { @workers.each_key { |worker| workers << worker } }
        workers.each do |worker|
          next if worker.flush(worker.exit_timeout)

          worker.logger.error("exiting with #{worker.pending} message(s) not sent after waiting #{worker.exit_timeout}s")
        end
      end
    end

    # Installed when the gem is loaded: at_exit hooks run last-in first-out, so this one runs
    # after the hooks the application installs later, and also sends what they track. Worker
    # threads are still alive while at_exit hooks run; Ruby kills them only afterwards.
    at_exit { ExitFlush.run }
  end
end
