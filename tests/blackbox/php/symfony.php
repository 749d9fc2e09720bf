<?php
// Sends one Email through Symfony Mailer's SendmailTransport, the class a
// Symfony or Laravel application uses for "sendmail://default".
//
// Usage: php symfony.php JOB
// JOB is JSON: {"command" (the transport's command string), "from",
// "to", "cc", "bcc" (lists), "subject", "text"}.
// Prints JSON: {"ok": true, "message_id": ...} or
// {"ok": false, "exception": class name, "message": text}.

require '/usr/share/php/Symfony/Component/Mailer/autoload.php';

use Symfony\Component\Mailer\Mailer;
use Symfony\Component\Mailer\Transport\SendmailTransport;
use Symfony\Component\Mime\Email;

$job = json_decode($argv[1], true, 16, JSON_THROW_ON_ERROR);
$email = (new Email())
    ->from($job['from'])
    ->subject($job['subject'])
    ->text($job['text']);
foreach ($job['to'] ?? [] as $a) {
    $email->addTo($a);
}
foreach ($job['cc'] ?? [] as $a) {
    $email->addCc($a);
}
foreach ($job['bcc'] ?? [] as $a) {
    $email->addBcc($a);
}

$transport = new SendmailTransport($job['command']);
try {
    $sent = $transport->send($email);
    $out = ['ok' => true, 'message_id' => $sent->getMessageId(),
            'transport' => (string) $transport];
} catch (\Throwable $e) {
    $out = ['ok' => false, 'exception' => get_class($e),
            'message' => $e->getMessage()];
}
echo json_encode($out), "\n";
