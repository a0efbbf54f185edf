# frozen_string_literal: true

require_relative 'test_helper'

# What the gem refuses at the call, and the pieces of its sending policy; no server needed.
class ValidationTest < Minitest::Test
  def client(**options)
    Salesmachine::Api.new({ api_key: 'token', host: 'http://127.0.0.1:9', logger: Logger.new(nil) }.merge(options))
  end

  def assert_refused(pattern, &block)
    error = assert_raises(ArgumentError, &block)
    assert_match pattern, error.message
  end

  def test_a_call_without_its_uid_is_refused
    assert_refused(/contact_uid is required/) { client.contact :params => { :name => "x" } }
    assert_refused(/contact_uid is required/) { client.contact :contact_uid => "  " }
    assert_refused(/account_uid is required/) { client.account :params => {} }
    assert_refused(/event is required/) { client.track :contact_uid => "1" }
    assert_refused(/contact_uid is required/) { client.pageview :params => {} }
    assert_refused(/alias is required/) { client.alias :contact_uid => "1" }
  end

  def test_a_misspelt_key_is_refused_rather_than_dropped
    assert_refused(/unknown key :param/) { client.contact :contact_uid => "1", :param => { :name => "x" } }
    assert_refused(/unknown key :contact_id/) { client.track :contact_id => "1", :event => "e" }
  end

  def test_params_must_be_a_hash_of_json_values
    assert_refused(/params must be a Hash/) { client.contact :contact_uid => "1", :params => [1] }
    assert_refused(/params\[:a\]\[:b\] is a Object/) { client.contact :contact_uid => "1", :params => { a: { b: Object.new } } }
    assert_refused(/NaN, which JSON cannot carry/) { client.contact :contact_uid => "1", :params => { mrr: Float::NAN } }
    assert_refused(/outside the 64-bit integers/) { client.contact :contact_uid => "1", :params => { mrr: 2**70 } }
    cycle = {}
    cycle[:self] = cycle
    assert_refused(/nested more than 100 levels/) { client.contact :contact_uid => "1", :params => cycle }
  end

  def test_a_message_over_the_servers_item_limit_is_refused
    assert_refused(/bytes as JSON; the server takes at most/) do
      client.contact :contact_uid => "1", :params => { :blob => 'x' * (64 * 1024) }
    end
  end

  def test_created_at_must_be_a_time
    assert_refused(/created_at must be an ISO-8601 time/) { client.track :contact_uid => "1", :event => "e", :created_at => "yesterday" }
    assert_refused(/created_at must be a Time/) { client.track :contact_uid => "1", :event => "e", :created_at => 1.5 }
  end

  def test_string_keys_and_integer_uids_are_taken
    message = Salesmachine::Messages.track('contact_uid' => 42, 'event_uid' => 'signed_up', 'params' => { 'plan' => 'pro' })
    assert_equal({ method: 'event', contact_uid: '42', event_uid: 'signed_up', params: { 'plan' => 'pro' } },
                 message.slice(:method, :contact_uid, :event_uid, :params))
    assert_equal 'pageview', Salesmachine::Messages.pageview(:contact_uid => '1')[:event_uid]
    assert_equal 'my-id', Salesmachine::Messages.contact(:contact_uid => '1', :message_id => 'my-id')[:messageId]
  end

  def test_options
    assert_refused(/:api_key \(your project token\) is required/) { Salesmachine::Api.new }
    assert_refused(/unknown option\(s\) :hots/) { Salesmachine::Api.new :api_key => 't', :hots => 'x' }
    assert_refused(/host must be an http or https URL/) { Salesmachine::Api.new :api_key => 't', :host => 'ftp://x' }
    assert_refused(/:batch_size must be a positive Integer/) { Salesmachine::Api.new :api_key => 't', :batch_size => 0 }
    assert_equal 'tok', Salesmachine::Api.new(:api_token => 'tok', :logger => Logger.new(nil)).config.api_key
  end

  # The option, else SALESMACHINE_HOST, else a server on this machine: never the vendor's.
  def test_the_server_address
    url = ->(options, env) { Salesmachine::Config.new({ api_key: 't' }.merge(options), env: env).url.to_s }
    assert_equal 'http://127.0.0.1:8080/v1/batch', url.call({}, {})
    assert_equal 'http://sm.internal:9000/v1/batch', url.call({}, { 'SALESMACHINE_HOST' => 'http://sm.internal:9000/' })
    assert_equal 'https://sm.example.com/prefix/v1/batch',
                 url.call({ host: 'https://sm.example.com/prefix' }, { 'SALESMACHINE_HOST' => 'http://ignored' })
    assert_equal 'http://localhost:8080/v1/batch', url.call({ host: 'localhost:8080' }, {})
    # The legacy gem's options: a host name, :port and :ssl.
    assert_equal 'https://sm.example.com:8443/v1/batch', url.call({ host: 'sm.example.com', port: 8443, ssl: true }, {})
    assert_equal 'http://sm.internal:9000/v1/batch', url.call({ host: 'sm.internal:9000', port: 1234 }, {})
  end

  def test_backoff_doubles_with_jitter_up_to_the_cap_and_honours_retry_after
    backoff = Salesmachine::Backoff.new(0.5, 4.0, random: Random.new(1))
    100.times do
      assert_includes 0.25..0.5, backoff.delay(0)
      assert_includes 1.0..2.0, backoff.delay(2)
      assert_includes 2.0..4.0, backoff.delay(30)
    end
    assert_equal 7.0, backoff.delay(0, 7.0)
  end

  def test_retry_after_in_seconds_or_as_a_date
    parse = Salesmachine::Transport.method(:retry_after_seconds)
    now = Time.utc(2024, 1, 1, 0, 0, 0)
    assert_equal 5.0, parse.call('5', now)
    assert_equal 30.0, parse.call('Mon, 01 Jan 2024 00:00:30 GMT', now)
    assert_equal 0.0, parse.call('Sun, 31 Dec 2023 00:00:00 GMT', now)
    assert_equal 300.0, parse.call('86400', now), 'capped'
    assert_nil parse.call('soon', now)
    assert_nil parse.call(nil, now)
  end

  def test_basic_credentials
    assert_equal %w[tok tok], Salesmachine::Transport.basic_credentials('tok', nil)
    assert_equal %w[tok sec], Salesmachine::Transport.basic_credentials('tok', 'sec')
  end

  def test_the_gem_loads_by_its_name_too
    assert require('salesmachine-ruby') || $LOADED_FEATURES.any? { |f| f.end_with?('/salesmachine-ruby.rb') }
    assert_equal '1.0.0', Salesmachine::VERSION
  end
end
