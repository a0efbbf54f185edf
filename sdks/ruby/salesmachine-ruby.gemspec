# frozen_string_literal: true

require_relative 'lib/salesmachine/version'

Gem::Specification.new do |spec|
  spec.name = 'salesmachine-ruby'
  spec.version = Salesmachine::VERSION
  spec.summary = "Ruby client for Salesmachine's v1 tracking API, for a self-hosted Salesmachine server"
  spec.description = 'Contacts, accounts, events, pageviews and aliases, queued and sent in the background ' \
                     'in batches, with retries, to a self-hosted Salesmachine server.'
  spec.authors = ['Salesmachine self-hosted contributors']
  spec.license = 'MIT'
  spec.files = Dir['lib/**/*.rb'] + %w[README.md salesmachine-ruby.gemspec]
  spec.require_paths = ['lib']
  spec.required_ruby_version = '>= 3.1'
  # The standard library only (net/http, json, securerandom, logger): nothing to conflict
  # with an application's own gems. The tests use minitest, which Ruby bundles.
  spec.metadata['rubygems_mfa_required'] = 'true'
end
