# frozen_string_literal: true

require 'salesmachine/codec'

module Salesmachine
  # The document's calls -> the items of a `POST /v1/batch` body.
  #
  # Each call takes one Hash, as the legacy gem did (`:contact_uid => "123456", :params =>
  # {...}`), with Symbol or String keys. Every item gets a `messageId` (the server's
  # deduplication key) and a `created_at` (when the call was made, not when it was sent).
  module Messages
    COMMON = %i[params created_at message_id].freeze

    module_function

    def contact(attrs)
      attrs = arguments(attrs, 'contact', %i[contact_uid] + COMMON)
      item('contact', attrs, contact_uid: uid(attrs, :contact_uid), params: params(attrs))
    end

    def account(attrs)
      attrs = arguments(attrs, 'account', %i[account_uid] + COMMON)
      item('account', attrs, account_uid: uid(attrs, :account_uid), params: params(attrs))
    end

    # The event name is `:event` in the document's Ruby example; `:event_uid`, the name the
    # HTTP API uses, is taken too. It goes out as `event_uid`.
    def track(attrs)
      attrs = arguments(attrs, 'track', %i[contact_uid event event_uid] + COMMON)
      if attrs.key?(:event) && attrs.key?(:event_uid) && attrs[:event] != attrs[:event_uid]
        raise ArgumentError, 'track: give :event or :event_uid, not both'
      end

      event = attrs.key?(:event) ? uid(attrs, :event) : uid(attrs, :event_uid, name: :event)
      item('event', attrs, contact_uid: uid(attrs, :contact_uid), event_uid: event, params: params(attrs))
    end

    # A pageview is an event named "pageview" (the document's batch has no pageview method).
    def pageview(attrs)
      attrs = arguments(attrs, 'pageview', %i[contact_uid] + COMMON)
      item('event', attrs, contact_uid: uid(attrs, :contact_uid), event_uid: 'pageview', params: params(attrs))
    end

    def alias(attrs)
      attrs = arguments(attrs, 'alias', %i[contact_uid alias created_at message_id])
      item('alias', attrs, contact_uid: uid(attrs, :contact_uid), alias: uid(attrs, :alias))
    end

    # The attributes with Symbol keys; an unknown key is an error, since a misspelt one
    # (`:param`, `:contact_id`) would otherwise drop data without a word.
    def arguments(attrs, call, known)
      raise ArgumentError, "#{call} takes a Hash (e.g. :contact_uid => \"123456\"), got #{attrs.class}" unless attrs.is_a?(Hash)

      attrs.each_with_object({}) do |(key, value), out|
        name = key.is_a?(String) ? key.to_sym : key
        unless known.include?(name)
          raise ArgumentError, "#{call}: unknown key #{key.inspect} (it takes #{known.map(&:inspect).join(', ')})"
        end

        out[name] = value
      end
    end

    # A uid is a non-empty String; an Integer (a database id) is sent as its decimal String.
    def uid(attrs, key, name: key)
      value = attrs[key]
      value = value.to_s if value.is_a?(Integer) || value.is_a?(Symbol)
      raise ArgumentError, "#{name} is required and must be a non-empty String" unless value.is_a?(String) && !value.strip.empty?

      value
    end

    def params(attrs)
      value = attrs.fetch(:params, nil) || {}
      raise ArgumentError, "params must be a Hash, got #{value.class}" unless value.is_a?(Hash)

      Codec.json_safe(value)
    end

    def item(method, attrs, fields)
      created_at = attrs[:created_at].nil? ? Codec.now : Codec.created_at(attrs[:created_at])
      message_id = attrs[:message_id].nil? ? Codec.message_id : attrs[:message_id].to_s
      raise ArgumentError, 'message_id must be a non-empty String' if message_id.empty?

      { method: method }.merge(fields).merge(created_at: created_at, messageId: message_id)
    end
  end
end
