<?php

declare(strict_types=1);

namespace Salesmachine\Tests;

use Salesmachine\Tests\Support\Process;
use Salesmachine\Tests\Support\TestCase;

/**
 * The library this one replaces is loaded with one line, `require
 * 'salesmachine-php/lib/Salesmachine.php';` (and its composer.json lists that file under
 * `files`): that file alone must bring in everything a call needs. Each test runs in a PHP
 * process of its own, since this suite's bootstrap has already registered the autoloader.
 */
final class LegacyRequireTest extends TestCase
{
    private const LIB = __DIR__ . '/../lib/Salesmachine.php';

    public function testRequiringLibSalesmachinePhpAloneSendsAndStores(): void
    {
        [$project, $stored] = $this->newProject();
        $uid = $this->uniqueUid();
        $code = "<?php\nrequire " . var_export(realpath(self::LIB), true) . ";\n"
            . 'Salesmachine::init(getenv("T_TOKEN"), getenv("T_SECRET"));' . "\n"
            . 'Salesmachine::set_contact(getenv("T_UID"), array("email" => "legacy@example.com"));' . "\n"
            . 'exit(Salesmachine::flush() ? 0 : 1);' . "\n";

        $out = $this->runPhp($code, ['SALESMACHINE_HOST' => $this->server()->url(), 'T_TOKEN' => $project->token,
            'T_SECRET' => $project->secret, 'T_UID' => $uid]);

        $this->assertSame(0, $out['code'], $out['stderr'] . $out['stdout']);
        $this->assertSame(['email' => 'legacy@example.com'], $stored->contact($uid)['params']);
    }

    public function testRequiringBothTheAutoloaderAndTheLibInEitherOrderIsHarmless(): void
    {
        $lib = var_export(realpath(self::LIB), true);
        $autoload = var_export(realpath(self::AUTOLOAD), true);
        foreach (["require $autoload; require $lib;", "require $lib; require $autoload;"] as $requires) {
            $out = $this->runPhp("<?php\n$requires\n"
                . 'echo get_class(Salesmachine::init("t", null, array("host" => "http://127.0.0.1:9")));' . "\n");
            $this->assertSame(0, $out['code'], $requires . "\n" . $out['stderr'] . $out['stdout']);
            $this->assertSame('Salesmachine\Client', $out['stdout'], $requires);
        }
    }

    /**
     * @param array<string, string> $env
     * @return array{code: int, stdout: string, stderr: string}
     */
    private function runPhp(string $code, array $env = []): array
    {
        $file = self::workdir() . '/legacy-' . bin2hex(random_bytes(4)) . '.php';
        file_put_contents($file, $code);
        $process = new Process([PHP_BINARY, $file], $env + getenv());
        $exit = $process->wait(60);
        return ['code' => $exit, 'stdout' => $process->stdout(), 'stderr' => $process->stderr()];
    }
}
