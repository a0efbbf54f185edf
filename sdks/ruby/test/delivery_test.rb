# frozen_string_literal: true

require 'open3'
require 'rbconfig'
require_relative 'test_helper'

# Getting messages to the server when it is down, slow, refusing or losing answers:
# retried with backoff, resent with the same messageId, stored once.
class DeliveryTest < Minitest::Test
  UUID = /\A\h{8}-\h{4}-4\h{3}-[89ab]\h{3}-\h{12}\z/.freeze
  ISO_UTC = /\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/.freeze

  def setup
    @project, @stored = shared_project
    @uid = unique_uid
  end

  def teardown
    @proxy&.close
  end

  def proxy
    @proxy ||= SalesmachineTest::FaultProxy.new(server.port)
  end

  # Stop the server process, send, start it again on the same database.
  def test_a_server_down_during_a_send_is_retried_and_nothing_is_lost_or_duplicated
    own = SalesmachineTest::Server.new(Dir.mktmpdir('down-', SalesmachineTest::WORKDIR)).start
    project, stored = new_project(own)
    client = client_for(project, host: own.url)
    client.contact :contact_uid => "123456", :params => { :email => "elon@teslamotors.com", :account_uid => "78910" }
    assert_flushed client

    own.stop
    client.account :account_uid => "78910", :params => { name: "Tesla Motors", employee_count: 10, mrr: 999 }
    client.track(:contact_uid => "123456", :event => "user_registration",
                 :params => { account_uid: "78910", display_name: "Registration" })
    client.pageview(:contact_uid => "123456", :params => { account_uid: "78910", visit_url: "http://myproduct.com/onboarding" })
    wait_until('a failed attempt') { @logger.include?('retry') }
    refute client.flush(timeout: 0.2), 'nothing can be sent while the server is down'

    own.start
    assert_flushed client
    assert_equal 4, stored.message_ids.size, 'every message stored once'
    assert_equal %w[user_registration pageview], stored.events.map { |e| e['name'] }
    assert_equal({ 'name' => 'Tesla Motors', 'employee_count' => 10, 'mrr' => 999 }, stored.account('78910')['params'])
    assert_equal ['78910'], stored.contact('123456')['accounts']
    assert_empty @logger.lines.grep(/not stored/)

    # The client goes on as usual once the server is back.
    client.track(:contact_uid => "123456", :event => "payment")
    assert_flushed client
    assert_equal %w[user_registration pageview payment], stored.events.map { |e| e['name'] }
  ensure
    own&.close
  end

  # The server stored the batch but the answer was lost: the client sends the same items
  # again, and the server acknowledges them without storing them twice.
  def test_a_lost_answer_is_resent_with_the_same_message_ids_and_stored_once
    proxy.drop_next(1)
    client = client_for(@project, host: proxy.url)
    3.times { |i| client.track(:contact_uid => @uid, :event => "step_#{i}") }
    assert_flushed client

    first, second = proxy.requests
    assert_equal 2, proxy.requests.size
    assert_equal :dropped, first.status
    assert_equal 201, second.status
    assert_equal first.items.map { |i| i['messageId'] }, second.items.map { |i| i['messageId'] }
    assert_equal(first.items.map { |i| i.except('sent_at') }, second.items.map { |i| i.except('sent_at') })
    events = @stored.events(contact_uid: @uid)
    assert_equal %w[step_0 step_1 step_2], events.map { |e| e['name'] }
    assert_equal first.items.map { |i| i['messageId'] }, events.map { |e| e['message_id'] }
  end

  def test_429_is_retried_after_the_servers_retry_after
    proxy.fail_next(1, 429, retry_after: '1')
    client = client_for(@project, host: proxy.url)
    client.track(:contact_uid => @uid, :event => "slow_down")
    assert_flushed client

    first, second = proxy.requests
    assert_equal [429, 201], [first.status, second.status]
    assert_operator second.at - first.at, :>=, 0.95, 'Retry-After: 1 is honoured over the 20 ms backoff'
    assert_equal ['slow_down'], @stored.events(contact_uid: @uid).map { |e| e['name'] }
  end

  def test_5xx_answers_are_retried_with_backoff
    proxy.fail_next(2, 503)
    proxy.fail_next(1, 500)
    client = client_for(@project, host: proxy.url)
    client.contact :contact_uid => @uid, :params => { :name => "Retried" }
    assert_flushed client

    assert_equal [503, 503, 500, 201], proxy.requests.map(&:status)
    assert_equal 1, proxy.requests.map { |r| r.items.first['messageId'] }.uniq.size
    assert_equal({ 'name' => 'Retried' }, @stored.contact(@uid)['params'])
    assert_equal 3, @logger.lines.grep(/retry \d+ of/).size
  end

  def test_a_refused_batch_goes_to_on_error_and_is_not_retried
    proxy.fail_next(1, 400)
    errors = Queue.new
    client = client_for(@project, host: proxy.url, on_error: proc { |status, message, messages| errors << [status, message, messages] })
    client.track(:contact_uid => @uid, :event => "refused")
    assert_flushed client

    status, message, messages = errors.pop
    assert_equal 400, status
    assert_match(/injected 400/, message)
    assert_equal [[@uid, 'refused']], messages.map { |m| [m[:contact_uid], m[:event_uid]] }
    assert_equal 1, proxy.requests.size
    assert_empty @stored.events(contact_uid: @uid)
  end

  # The legacy gem's handlers take (status, error); they still work.
  def test_retries_that_run_out_are_reported_to_a_legacy_on_error
    proxy.fail_next(3, 503)
    errors = Queue.new
    client = client_for(@project, host: proxy.url, max_retries: 2, on_error: proc { |status, error| errors << [status, error] })
    client.track(:contact_uid => @uid, :event => "lost")
    assert_flushed client

    status, error = errors.pop
    assert_equal 503, status
    assert_match(/503/, error)
    assert_equal 3, proxy.requests.size
  end

  def test_items_the_server_rejects_in_a_stored_batch_are_reported_alone
    errors = Queue.new
    client = client_for(@project, host: proxy.url, on_error: ->(status, message, messages) { errors << [status, message, messages] })
    proxy.hold
    client.track(:contact_uid => @uid, :event => "first")
    wait_until('the first batch at the proxy') { proxy.requests.size == 1 }
    client.track(:contact_uid => @uid, :event => "good")
    client.track(:contact_uid => @uid, :event => "bad")
    proxy.pass_next
    proxy.answer_next(201, { status: 'success', accepted: 1,
                             rejected: [{ index: 1, code: 'bad_request', message: 'params.mrr must be a number' }] })
    proxy.release
    assert_flushed client

    assert_equal [1, 2], proxy.requests.map { |r| r.items.size }
    status, message, messages = errors.pop
    assert_equal 201, status
    assert_match(/params.mrr must be a number/, message)
    assert_equal ['bad'], messages.map { |m| m[:event_uid] }
    assert errors.empty?
  end

  def test_messages_are_sent_in_batches_each_item_stamped
    proxy.hold
    client = client_for(@project, host: proxy.url, batch_size: 100)
    client.track(:contact_uid => @uid, :event => "e0")
    wait_until('the first batch at the proxy') { proxy.requests.size == 1 }
    (1..250).each { |i| client.track(:contact_uid => @uid, :event => "e#{i}") }
    proxy.release
    assert_flushed client

    batches = proxy.requests.map(&:items)
    assert_equal [1, 100, 100, 50], batches.map(&:size)
    items = batches.flatten
    assert_equal 251, items.map { |i| i['messageId'] }.uniq.size
    items.each do |item|
      assert_equal %w[contact_uid created_at event_uid messageId method params sent_at], item.keys.sort
      assert_equal 'event', item['method']
      assert_match UUID, item['messageId']
      assert_match ISO_UTC, item['created_at']
      assert_match ISO_UTC, item['sent_at']
    end
    assert_equal (0..250).map { |i| "e#{i}" }, @stored.events(contact_uid: @uid).map { |e| e['name'] }
  end

  def test_the_queue_is_bounded
    proxy.hold
    client = client_for(@project, host: proxy.url, max_queue_size: 2)
    assert client.track(:contact_uid => @uid, :event => "in_flight")
    wait_until('the first batch at the proxy') { proxy.requests.size == 1 }
    assert client.track(:contact_uid => @uid, :event => "queued_1")
    assert client.track(:contact_uid => @uid, :event => "queued_2")
    refute client.track(:contact_uid => @uid, :event => "dropped"), 'a full queue refuses the message'
    assert @logger.include?('queue full')
    proxy.release
    assert_flushed client

    assert_equal %w[in_flight queued_1 queued_2], @stored.events(contact_uid: @uid).map { |e| e['name'] }
  end

  def test_basic_auth_is_token_and_token_or_token_and_secret
    client = client_for(@project, host: proxy.url)
    client.track(:contact_uid => @uid, :event => "token_only")
    assert_flushed client
    with_secret = client_for(@project, host: proxy.url, api_secret: @project.secret)
    with_secret.track(:contact_uid => @uid, :event => "with_secret")
    assert_flushed with_secret

    assert_equal [[@project.token, @project.token], [@project.token, @project.secret]], proxy.requests.map(&:credentials)
    assert_equal [201, 201], proxy.requests.map(&:status)
    assert_equal %w[token_only with_secret], @stored.events(contact_uid: @uid).map { |e| e['name'] }
  end

  def test_a_wrong_token_is_reported_not_retried
    errors = Queue.new
    client = client_for(@project, host: proxy.url, api_key: 'not-a-token', on_error: proc { |status, message| errors << [status, message] })
    client.track(:contact_uid => @uid, :event => "unauthorized")
    assert_flushed client

    assert_equal 401, errors.pop.first
    assert_equal 1, proxy.requests.size
  end

  # A script that tracks and ends without calling flush: the gem's at_exit hook sends.
  def test_the_queue_is_flushed_when_the_program_exits
    script = <<~RUBY
      require 'salesmachine'
      client = Salesmachine::Api.new :api_key => ARGV[0], :host => ARGV[1]
      20.times { |i| client.track :contact_uid => ARGV[2], :event => "at_exit_\#{i}" }
    RUBY
    _out, err, status = Open3.capture3(RbConfig.ruby, '-I', SalesmachineTest::LIB, '-e', script,
                                       @project.token, server.url, @uid)
    assert status.success?, err

    assert_equal (0...20).map { |i| "at_exit_#{i}" }, @stored.events(contact_uid: @uid).map { |e| e['name'] }
  end

  def test_created_at_is_when_it_happened
    client = client_for(@project)
    client.track(:contact_uid => @uid, :event => "back_then", :created_at => Time.utc(2020, 1, 2, 3, 4, 5))
    assert_flushed client

    occurred = parse_time(@stored.events(contact_uid: @uid).first['occurred_at'])
    assert_in_delta Time.utc(2020, 1, 2, 3, 4, 5), occurred, 2.0
  end

  def test_params_are_stored_as_json_values
    client = client_for(@project)
    client.contact :contact_uid => @uid, :params => {
      :registered_at => Time.utc(2021, 5, 6, 7, 8, 9), :birthday => Date.new(1971, 6, 28), :plan => :pro,
      :tags => %w[a b], :nested => { 'deep' => [1, 2.5, nil, true] }, 'string_key' => 'kept'
    }
    assert_flushed client

    assert_equal({ 'registered_at' => '2021-05-06T07:08:09.000Z', 'birthday' => '1971-06-28', 'plan' => 'pro',
                   'tags' => %w[a b], 'nested' => { 'deep' => [1, 2.5, nil, true] }, 'string_key' => 'kept' },
                 @stored.contact(@uid)['params'])
  end
end
