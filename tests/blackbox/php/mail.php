<?php
// Calls PHP's own mail() as an application would; relaymail is reached
// through the sendmail_path ini setting given on php's command line.
//
// Usage: php -d sendmail_path=CMD mail.php JOB
// JOB is JSON: {"to", "subject", "message", "headers" (string or array,
// optional), "params" (additional_params, optional)}.
// Prints JSON: {"result": mail()'s return value, "sendmail_path": ...}.

$job = json_decode($argv[1], true, 16, JSON_THROW_ON_ERROR);
$args = [$job['to'], $job['subject'], $job['message']];
if (array_key_exists('headers', $job) || array_key_exists('params', $job)) {
    $args[] = $job['headers'] ?? [];
}
if (array_key_exists('params', $job)) {
    $args[] = $job['params'];
}
$result = mail(...$args);
echo json_encode([
    'result' => $result,
    'sendmail_path' => ini_get('sendmail_path'),
]), "\n";
