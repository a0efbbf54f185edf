# frozen_string_literal: true

require_relative 'test_helper'

# The API document's Ruby examples, copied as written but for the token and the host (the
# host comes from SALESMACHINE_HOST, so the document's init line runs unchanged). The one
# change: the document's contact example writes its keys as `email =>`, which in Ruby are
# undefined local variables; they are written `:email =>` here, as the README says.
class ApiDocumentTest < Minitest::Test
  def setup
    @project, @stored = new_project
    @previous_host = ENV['SALESMACHINE_HOST']
    ENV['SALESMACHINE_HOST'] = server.url
    # The document's own lines: the gem is required by its name, and the token is a constant.
    require 'salesmachine'
    require 'cgi'
    Object.send(:remove_const, :YOUR_API_TOKEN) if Object.const_defined?(:YOUR_API_TOKEN)
    Object.const_set(:YOUR_API_TOKEN, @project.token)
    $smclient = Salesmachine::Api.new :api_key => YOUR_API_TOKEN
  end

  def teardown
    ENV['SALESMACHINE_HOST'] = @previous_host
    $smclient&.flush(timeout: 10)
  end

  def test_contact
    $smclient.contact :contact_uid => "123456", :params => {
    :email => "elon@teslamotors.com",
    :name => "Elon Musk",
    :gender => "male",
    :mrr => 99,
    :account_uid => "78910"
    }
    assert_flushed $smclient

    contact = @stored.contact('123456')
    assert_equal({ 'email' => 'elon@teslamotors.com', 'name' => 'Elon Musk', 'gender' => 'male', 'mrr' => 99 },
                 contact['params'], 'account_uid becomes a membership, the rest is stored as sent')
    assert_equal ['78910'], contact['accounts']
    assert_equal ['123456'], @stored.account('78910')['contacts']
  end

  def test_account
    $smclient.account :account_uid => "78910", :params => {
    name: "Tesla Motors",
    employee_count: 10,
    website_url: "http://www.teslamotors.com",
    mrr: 999,
    }
    assert_flushed $smclient

    assert_equal({ 'name' => 'Tesla Motors', 'employee_count' => 10, 'website_url' => 'http://www.teslamotors.com',
                   'mrr' => 999 }, @stored.account('78910')['params'])
  end

  def test_track
    $smclient.track(
    :contact_uid => "123456", :event => "user_registration",
    :params => {
    account_uid: "78910",
    display_name: "Registration"
    }
    )
    assert_flushed $smclient

    events = @stored.events
    assert_equal 1, events.size
    event = events.first
    assert_equal %w[user_registration event 123456 78910],
                 event.values_at('name', 'kind', 'contact_uid', 'account_uid')
    assert_equal({ 'account_uid' => '78910', 'display_name' => 'Registration' }, event['params'])
    assert_match(/\A\h{8}-\h{4}-4\h{3}-[89ab]\h{3}-\h{12}\z/, event['message_id'], 'each message carries a uuid')
  end

  def test_pageview
    $smclient.pageview(
    :contact_uid => "123456",
    :params => {
    account_uid: "78910",
    visit_url: "http://myproduct.com/onboarding",
    visit_ip: "XX.XX.XX.XX",
    visit_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/43.0.2357.130 Safari/537.36"
    }
    )
    assert_flushed $smclient

    events = @stored.events
    assert_equal 1, events.size
    assert_equal %w[pageview pageview 123456 78910], events.first.values_at('name', 'kind', 'contact_uid', 'account_uid')
    assert_equal({ 'account_uid' => '78910', 'visit_url' => 'http://myproduct.com/onboarding', 'visit_ip' => 'XX.XX.XX.XX',
                   'visit_agent' => 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ' \
                                    'Chrome/43.0.2357.130 Safari/537.36' }, events.first['params'])
  end

  # The document gives alias as an HTTP call only ({"contact_uid":"123456", "alias":"789"});
  # the gem sends the same through the batch.
  def test_alias
    $smclient.contact :contact_uid => "123456", :params => { :email => "elon@teslamotors.com" }
    $smclient.contact :contact_uid => "789", :params => { :name => "Elon Musk" }
    $smclient.alias :contact_uid => "123456", :alias => "789"
    assert_flushed $smclient

    contact = @stored.contact('789')
    assert_equal %w[123456 789], contact['uids']
    assert_equal({ 'email' => 'elon@teslamotors.com', 'name' => 'Elon Musk' }, contact['params'])
    assert_equal 1, @stored.count('contacts')
  end

  # The whole document in order, as one program would run it: every call arrives once, in
  # order, with the contact, account, event and pageview tied together.
  def test_every_example_in_order
    $smclient.contact :contact_uid => "123456", :params => { :email => "elon@teslamotors.com", :name => "Elon Musk",
                                                             :gender => "male", :mrr => 99, :account_uid => "78910" }
    $smclient.account :account_uid => "78910", :params => { name: "Tesla Motors", employee_count: 10,
                                                            website_url: "http://www.teslamotors.com", mrr: 999 }
    $smclient.track(:contact_uid => "123456", :event => "user_registration",
                    :params => { account_uid: "78910", display_name: "Registration" })
    $smclient.pageview(:contact_uid => "123456", :params => { account_uid: "78910", visit_url: "http://myproduct.com/onboarding" })
    assert_flushed $smclient

    assert_equal 4, @stored.message_ids.size
    assert_equal %w[user_registration pageview], @stored.events.map { |e| e['name'] }
    assert_equal ['78910'], @stored.contact('123456')['accounts']
    assert_equal 'Tesla Motors', @stored.account('78910')['params']['name']
  end
end
