<?php

declare(strict_types=1);

// The router of FaultProxy, run by `php -S` with several workers. Each request takes the
// next fault from $SM_PROXY_STATE/faults.json (under a lock): an injected answer, or
// "drop" (forward, then hold the answer past the client's timeout, so it is lost); with no
// fault it forwards to $SM_PROXY_UPSTREAM. Every request is appended to seen.jsonl.

$state = getenv('SM_PROXY_STATE');
$upstream = getenv('SM_PROXY_UPSTREAM');
$arrived = microtime(true);
$body = (string) file_get_contents('php://input');
$headers = array_change_key_case(getallheaders(), CASE_LOWER);

$lock = fopen("{$state}/lock", 'c');
flock($lock, LOCK_EX);
$faults = json_decode((string) @file_get_contents("{$state}/faults.json"), true) ?: [];
$fault = array_shift($faults);
file_put_contents("{$state}/faults.json", json_encode($faults));
flock($lock, LOCK_UN);

if ($fault === null || ($fault['kind'] ?? '') === 'drop') {
    $curl = curl_init($upstream . $_SERVER['REQUEST_URI']);
    $forward = ['Content-Type: ' . ($headers['content-type'] ?? 'application/json')];
    if (isset($headers['authorization'])) {
        $forward[] = 'Authorization: ' . $headers['authorization'];
    }
    $answerHeaders = [];
    curl_setopt_array($curl, [
        CURLOPT_CUSTOMREQUEST => $_SERVER['REQUEST_METHOD'],
        CURLOPT_POSTFIELDS => $body,
        CURLOPT_HTTPHEADER => $forward,
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_TIMEOUT => 30,
        CURLOPT_HEADERFUNCTION => static function ($c, string $line) use (&$answerHeaders): int {
            $pair = explode(':', $line, 2);
            if (count($pair) === 2) {
                $answerHeaders[strtolower(trim($pair[0]))] = trim($pair[1]);
            }
            return strlen($line);
        },
    ]);
    $answer = curl_exec($curl);
    $status = $answer === false ? 502 : (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
    $answer = $answer === false ? '{"error":"upstream down","code":"bad_gateway","message":"upstream down"}' : $answer;
    if ($fault !== null) {
        record($state, $arrived, $headers, $body, 'dropped');
        usleep((int) ($fault['seconds'] * 1_000_000));
        exit;
    }
    foreach (['content-type', 'retry-after', 'www-authenticate'] as $name) {
        if (isset($answerHeaders[$name])) {
            header("{$name}: {$answerHeaders[$name]}");
        }
    }
} else {
    $status = $fault['status'];
    $answer = $fault['body'] ?? json_encode(['error' => 'injected', 'code' => 'injected', 'message' => "injected {$status}"]);
    header('Content-Type: application/json');
    if (isset($fault['retry_after'])) {
        header('Retry-After: ' . $fault['retry_after']);
    }
}
record($state, $arrived, $headers, $body, $status);
http_response_code($status);
echo $answer;

function record(string $state, float $arrived, array $headers, string $body, int|string $status): void
{
    $line = json_encode(['at' => $arrived, 'authorization' => $headers['authorization'] ?? null, 'body' => $body,
        'status' => $status]) . "\n";
    file_put_contents("{$state}/seen.jsonl", $line, FILE_APPEND | LOCK_EX);
}
