<?php
// Sends one message with PHPMailer in sendmail mode (isSendmail()), as
// WordPress and many PHP applications do.
//
// Usage: php phpmailer.php JOB
// JOB is JSON: {"sendmail" (PHPMailer's Sendmail property), "from",
// "from_name", "sender" (optional Sender), "to", "cc", "bcc" (lists),
// "subject", "body", "headers" (optional {name: value})}.
// Prints JSON: {"ok": send()'s result, "error": ErrorInfo,
// "debug": PHPMailer's debug lines (the command it ran, the header block)}.

require '/usr/share/php/libphp-phpmailer/autoload.php';

use PHPMailer\PHPMailer\PHPMailer;

$job = json_decode($argv[1], true, 16, JSON_THROW_ON_ERROR);
$debug = [];
$mail = new PHPMailer(false);      // errors as send() === false, no throw
$mail->SMTPDebug = 4;
$mail->Debugoutput = function ($str, $level) use (&$debug) {
    $debug[] = $str;
};
$mail->isSendmail();
$mail->Sendmail = $job['sendmail'];
$mail->setFrom($job['from'], $job['from_name'] ?? '');
if (isset($job['sender'])) {
    $mail->Sender = $job['sender'];
}
foreach ($job['to'] ?? [] as $a) {
    $mail->addAddress($a);
}
foreach ($job['cc'] ?? [] as $a) {
    $mail->addCC($a);
}
foreach ($job['bcc'] ?? [] as $a) {
    $mail->addBCC($a);
}
foreach ($job['headers'] ?? [] as $name => $value) {
    $mail->addCustomHeader($name, $value);
}
$mail->Subject = $job['subject'];
$mail->Body = $job['body'];

$ok = $mail->send();
echo json_encode(['ok' => $ok, 'error' => $mail->ErrorInfo,
                  'debug' => $debug]), "\n";
