// The CLI, reporting its peak RSS on stderr when done (for the big-file benchmark).
import { runCli } from '../src-main/cli/cli';

const code = await runCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
process.stderr.write(`peak-rss-kb ${process.resourceUsage().maxRSS}\n`);
process.exitCode = code;
