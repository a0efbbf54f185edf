# frozen_string_literal: true

# The Salesmachine client: `Salesmachine::Api.new :api_key => TOKEN`, then contact, account,
# track, pageview and alias calls, sent in the background in batches to a self-hosted
# Salesmachine server (see README.md).
require 'salesmachine/version'
require 'salesmachine/errors'
require 'salesmachine/codec'
require 'salesmachine/messages'
require 'salesmachine/config'
require 'salesmachine/transport'
require 'salesmachine/backoff'
require 'salesmachine/sender'
require 'salesmachine/worker'
require 'salesmachine/exit_flush'
require 'salesmachine/api'
