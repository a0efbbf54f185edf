# frozen_string_literal: true

require 'json'
require 'net/http'
require 'open3'
require 'securerandom'
require 'socket'
require 'tmpdir'

module SalesmachineTest
  # A project as `salesmachine projects create --json` prints it.
  Project = Struct.new(:id, :name, :token, :secret)

  # `salesmachine serve` as a subprocess on a free port, with its own SQLite file. The
  # server is reached the way users reach it: its command line and HTTP, nothing else.
  class Server
    attr_reader :port, :db_path, :log_path

    # The `salesmachine` command: $SALESMACHINE_SERVER_BIN, else the first on PATH.
    def self.command
      explicit = ENV['SALESMACHINE_SERVER_BIN']
      return explicit if explicit && File.executable?(explicit)

      ENV.fetch('PATH', '').split(File::PATH_SEPARATOR).each do |dir|
        candidate = File.join(dir, 'salesmachine')
        return candidate if File.executable?(candidate) && !File.directory?(candidate)
      end
      raise 'the server command `salesmachine` is not on PATH (install ./server: make venv, ' \
            'then put .venv/bin on PATH)'
    end

    def self.free_port
      server = TCPServer.new('127.0.0.1', 0)
      server.addr[1]
    ensure
      server&.close
    end

    # prefetch: create each next project in the background (see create_project).
    def initialize(workdir, prefetch: false)
      @workdir = workdir
      @prefetch = prefetch
      @db_path = File.join(workdir, 'salesmachine.db')
      @log_path = File.join(workdir, 'server.log')
      @port = self.class.free_port
      @pid = nil
      @prefetched = nil
      @prefetch_lock = Mutex.new
      # The server reads every SALESMACHINE_* variable as a setting (SALESMACHINE_HOST is the
      # address it listens on, while the client reads it as where to send): none reach it.
      @env = ENV.keys.grep(/\ASALESMACHINE_/).to_h { |key| [key, nil] }
      @env['SALESMACHINE_KEY_FILE'] = File.join(workdir, 'server.key')
    end

    def url
      "http://127.0.0.1:#{@port}"
    end

    def database_url
      "sqlite:///#{@db_path}"
    end

    # A new project. `projects create` takes a second or two (the CLI starts Python), so the
    # next project is created in the background while the test that asked uses this one.
    def create_project
      @prefetch_lock.synchronize do
        ready = @prefetched || start_project_creation
        @prefetched = @prefetch ? start_project_creation : nil
        ready.value
      end
    end

    def start_project_creation
      Thread.new { create_project_now }.tap { |thread| thread.report_on_exception = false }
    end

    def create_project_now
      name = "ruby-client-test-#{SecureRandom.hex(6)}"
      out, err, status = Open3.capture3(@env, self.class.command, 'projects', 'create', name, '--json',
                                        '--database', database_url)
      raise "projects create failed (#{status}): #{err}" unless status.success?

      created = JSON.parse(out)
      Project.new(created['id'], created['name'], created['token'], created['secret'])
    end

    def start(timeout: 30)
      @pid = Process.spawn(@env, self.class.command, 'serve', '--host', '127.0.0.1', '--port', @port.to_s,
                           '--database', database_url, %i[out err] => [@log_path, 'a'])
      deadline = monotonic + timeout
      until healthy?
        if Process.wait(@pid, Process::WNOHANG)
          @pid = nil
          raise "server exited with #{$?}:\n#{log}"
        end
        raise "server did not answer within #{timeout}s:\n#{log}" if monotonic > deadline

        sleep 0.02
      end
      self
    end

    # Stop the server and wait for a project still being created in the background.
    def close
      stop
      @prefetch_lock.synchronize { @prefetched&.join }
    end

    def stop(timeout: 20)
      return if @pid.nil?

      Process.kill('TERM', @pid)
      deadline = monotonic + timeout
      until Process.wait(@pid, Process::WNOHANG)
        if monotonic > deadline
          Process.kill('KILL', @pid)
          Process.wait(@pid)
          break
        end
        sleep 0.02
      end
      @pid = nil
    rescue Errno::ESRCH, Errno::ECHILD
      @pid = nil
    end

    def running?
      !@pid.nil?
    end

    def log
      File.exist?(@log_path) ? File.read(@log_path) : ''
    end

    private

    def healthy?
      Net::HTTP.start('127.0.0.1', @port, open_timeout: 1, read_timeout: 1) do |http|
        http.get('/healthz').code == '200'
      end
    rescue SystemCallError, IOError, Timeout::Error
      false
    end

    def monotonic
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end
  end
end
