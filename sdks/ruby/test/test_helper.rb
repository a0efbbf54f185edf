# frozen_string_literal: true

# The suite runs the gem against a real `salesmachine serve` (found on PATH) with a
# temporary SQLite file, and reads what was stored from that file.
$LOAD_PATH.unshift(File.expand_path('../lib', __dir__))
$LOAD_PATH.unshift(File.expand_path('support', __dir__))

require 'fileutils'
require 'logger'
require 'minitest/autorun'
require 'securerandom'
require 'tmpdir'
require 'salesmachine'
require 'server'
require 'stored'
require 'fault_proxy'

module SalesmachineTest
  LIB = File.expand_path('../lib', __dir__)
  WORKDIR = Dir.mktmpdir('salesmachine-ruby-test-')

  # The server most tests share (creating their projects ahead); tests that stop a server
  # start their own.
  def self.server
    @server ||= Server.new(Dir.mktmpdir('shared-', WORKDIR), prefetch: true).start
  end

  Minitest.after_run do
    @server&.close
    FileUtils.rm_rf(WORKDIR) unless ENV['KEEP_TEST_FILES']
  end

  # A Logger that keeps its lines, so a test can wait for "retry" without sleeping.
  class CapturingLogger < Logger
    def initialize
      @lines = []
      @lines_lock = Mutex.new
      super(nil)
      self.level = Logger::DEBUG
    end

    def add(severity, message = nil, progname = nil)
      message = yield if message.nil? && block_given?
      text = "#{Logger::SEV_LABEL[severity]} #{message || progname}"
      @lines_lock.synchronize { @lines << text }
      true
    end

    def lines
      @lines_lock.synchronize { @lines.dup }
    end

    def include?(fragment)
      lines.any? { |line| line.include?(fragment) }
    end
  end

  # Helpers for the tests, which read as usage of the gem.
  module Helpers
    def server
      SalesmachineTest.server
    end

    # A fresh project on `on` (the shared server by default) and the reader of what it stores.
    def new_project(on = server)
      project = on.create_project
      [project, Stored.new(on.db_path, project.id)]
    end

    # One project for the tests that use uids of their own (contact_uid: name of the test),
    # so that they need not wait for a project each.
    def shared_project
      SalesmachineTest.instance_variable_get(:@shared_project) ||
        SalesmachineTest.instance_variable_set(:@shared_project, new_project)
    end

    # A uid no other test uses.
    def unique_uid(prefix = name)
      "#{prefix}-#{SecureRandom.hex(4)}"
    end

    # A client with retries quick enough for a test; `host` defaults to the shared server.
    def client_for(project, **options)
      @logger = CapturingLogger.new
      Salesmachine::Api.new({ api_key: project.token, host: server.url, backoff_base: 0.02, backoff_cap: 0.2,
                              max_retries: 100, logger: @logger }.merge(options))
    end

    # Poll the block until it is truthy; fail after `timeout` seconds.
    def wait_until(what, timeout: 15)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
      loop do
        value = yield
        return value if value

        flunk "timed out after #{timeout}s waiting for #{what}" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
        sleep 0.01
      end
    end

    def assert_flushed(client, timeout: 30)
      assert client.flush(timeout: timeout), "the client's queue did not empty within #{timeout}s"
    end

    def parse_time(text)
      Time.iso8601(text.sub(' ', 'T').sub(/(Z|[+-]\d\d:\d\d)?\z/) { |zone| zone.empty? ? 'Z' : zone })
    end
  end
end

Minitest::Test.include(SalesmachineTest::Helpers)
