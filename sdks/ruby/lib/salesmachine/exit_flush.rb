# frozen_string_literal: true

module Salesmachine
  # Sends what is still queued when the program ends, so a script that tracks and exits
  # loses nothing. One at_exit hook for the process, over every live worker; workers are
  # held weakly so that a client the application drops can still be collected.
  module ExitFlush
    @workers = ObjectSpace::WeakMap.new
    @lock = Mutex.new

    class << self
      def register(worker, timeout, logger)
        @lock.synchronize { @workers[worker] = [timeout, logger] }
      end

      def run
        workers = []
        @lock.synchronize { @workers.each_pair { |worker, settings| workers << [worker, settings] } }
        workers.each do |worker, (timeout, logger)|
          next if worker.flush(timeout)

          logger.error("exiting with #{worker.pending} message(s) not sent after waiting #{timeout}s")
        end
      end
    end

    # Installed when the gem is loaded: at_exit hooks run last-in first-out, so this one runs
    # after the hooks the application installs later, and also sends what they track. Worker
    # threads are still alive while at_exit hooks run; Ruby kills them only afterwards.
    at_exit { ExitFlush.run }
  end
end
