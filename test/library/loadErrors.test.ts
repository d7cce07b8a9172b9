/**
 * Broken policy data is one PolicyLoadError naming the file and the field (a JSON path), whatever
 * is wrong: a file that is not JSON, a schema failure, an unknown fact or value set, a version folder
 * not named by its version, a fact id defined twice. Each case breaks a temporary copy of cds-services/.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadLibrary } from '../../src/library/library.js';
import { PolicyLoadError, type LoadProblem } from '../../src/config/loadError.js';
import { copyPolicyDir, editJson } from '../helpers/policyDir.js';

// Tests edit policy JSON of any shape.
type Json = Record<string, any>;

const MA = 'medicare-advantage-lumbar-mri';
const KP = 'kp-wa-lumbar-mri';
let dirs: string[] = [];

function copy(): string {
  const dir = copyPolicyDir();
  dirs.push(dirname(dir));
  return dir;
}

afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

/** The load error's problems (fails if the library loads). */
function problemsOf(dir: string, routingFile?: string): readonly LoadProblem[] {
  try {
    loadLibrary(dir, routingFile);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyLoadError);
    if (err instanceof PolicyLoadError) return err.problems;
  }
  throw new Error('the library loaded');
}

describe('PolicyLoadError: the file and the field', () => {
  it('the repository data loads', () => {
    expect(loadLibrary(copy()).policies.map((p) => `${p.policyId}@${p.version}`)).toContain(`${MA}@1.1`);
  });

  it('a policy file that is not JSON', () => {
    const dir = copy();
    const file = join(dir, 'kp-wa-medicare-lumbar-mri', '2020-09-01', 'policy.json');
    writeFileSync(file, '{ "policyId": ');
    expect(problemsOf(dir)).toEqual([{ file, path: '', message: expect.stringMatching(/^not JSON: /) }]);
  });

  it('a schema failure names each field, nested ones by their JSON path', () => {
    const dir = copy();
    const file = join(dir, MA, '1.1', 'policy.json');
    editJson<Json>(file, (p) => {
      p.title = 42;
      p.indications[0].children[1].kind = 'maybe';
    });
    const problems = problemsOf(dir);
    expect(problems.map((p) => [p.file, p.path])).toEqual([
      [file, 'title'],
      [file, 'indications[0].children[1].kind'],
    ]);
  });

  it('a routing file with a wrong field (ROUTING_FILE)', () => {
    const dir = copy();
    const routing = join(dir, '..', 'my-routing.json');
    writeFileSync(routing, JSON.stringify({ rules: [{ id: 'a', policyId: KP }, { id: 'b', policyId: 7 }] }));
    expect(problemsOf(dir, routing).map((p) => [p.file, p.path])).toEqual([[routing, 'rules[1].policyId']]);
  });

  it('a routing rule naming no policy of the library', () => {
    const dir = copy();
    const routing = join(dir, 'routing.json');
    editJson<Json>(routing, (r) => {
      r.rules[2].policyId = 'medicare-advantage-lumbar-mir';
    });
    expect(problemsOf(dir)).toEqual([{ file: routing, path: 'rules[2].policyId', message: expect.stringContaining('no policy medicare-advantage-lumbar-mir') }]);
  });

  it('a node referencing an unknown fact', () => {
    const dir = copy();
    const file = join(dir, MA, '1.1', 'policy.json');
    editJson<Json>(file, (p) => {
      p.indications[0].children[0].fact = 'tumour-suspected';
    });
    expect(problemsOf(dir)).toEqual([{ file, path: 'indications[0].children[0].fact', message: 'node IND.1.1: unknown fact tumour-suspected' }]);
  });

  it("a node using another policy's own fact (a fact two policies use is common)", () => {
    const dir = copy();
    const file = join(dir, MA, '1.1', 'policy.json');
    editJson<Json>(file, (p) => {
      p.indications[0].children[0].fact = 'as-suspected';
    });
    const [problem] = problemsOf(dir);
    expect(problem).toMatchObject({ file, path: 'indications[0].children[0].fact' });
    expect(problem?.message).toContain(`fact as-suspected is ${KP}'s (${join(dir, KP, 'facts.json')})`);
  });

  it("a common fact built on one policy's own fact", () => {
    const dir = copy();
    const file = join(dir, 'common', 'facts.json');
    editJson<Json>(file, (facts) => {
      facts['low-back-pain'].derive = { any: [facts['low-back-pain'].derive, { fact: 'as-suspected' }] };
    });
    const [problem] = problemsOf(dir);
    expect(problem).toMatchObject({ file, path: 'low-back-pain.derive.any[1].fact' });
    expect(problem?.message).toContain(`fact as-suspected is ${KP}'s`);
  });

  it('a fact reading an unknown value set', () => {
    const dir = copy();
    const file = join(dir, KP, 'facts.json');
    editJson<Json>(file, (facts) => {
      facts['neurogenic-claudication'].derive.any[0].valueSet = 'neurogenic-claudicaton';
    });
    expect(problemsOf(dir)).toEqual([{ file, path: 'neurogenic-claudication.derive.any[0].valueSet', message: 'unknown value set neurogenic-claudicaton' }]);
  });

  it('a version folder not named by its policy version', () => {
    const dir = copy();
    renameSync(join(dir, MA, '1.1'), join(dir, MA, '2025-10-02'));
    expect(problemsOf(dir)).toEqual([
      { file: join(dir, MA, '2025-10-02', 'policy.json'), path: 'version', message: expect.stringContaining('"1.1", but the folder is 2025-10-02/') },
    ]);
  });

  it('a version folder without policy.json', () => {
    const dir = copy();
    mkdirSync(join(dir, MA, '1.2'));
    expect(problemsOf(dir)).toEqual([{ file: join(dir, MA, '1.2', 'policy.json'), path: '', message: expect.stringContaining('missing') }]);
  });

  it('a fact id defined twice (common and a policy folder)', () => {
    const dir = copy();
    const file = join(dir, MA, 'facts.json');
    editJson<Json>(file, (facts) => {
      facts['low-back-pain'] = facts['pregnancy'];
    });
    expect(problemsOf(dir)).toEqual([
      { file, path: 'low-back-pain', message: `fact low-back-pain is already defined in ${join(dir, 'common', 'facts.json')}: a fact id is defined once` },
    ]);
  });
});

/** Runs the service to its exit and returns its exit code and output. */
function start(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the service started with broken policy data', () => {
  it('a broken ROUTING_FILE: exits 1 with one line naming the file and the field, no stack', async () => {
    const dir = copy();
    const routing = join(dir, '..', 'routing.json');
    writeFileSync(routing, JSON.stringify({ rules: [{ id: 'acme', policyId: 'acme-lumbar-mri' }] }));
    const r = await start({ ROUTING_FILE: routing, RECORD_DATA_DIR: join(dir, '..', 'records') });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`lumbar-mri-cds: not started: policy data: ${routing}: rules[0].policyId: rule acme: no policy acme-lumbar-mri in the policy folder\n`);
    expect(r.stdout).not.toMatch(/listening/);
  }, 90_000);

  it('a broken policy folder (POLICY_DIR): one line, and how many more problems there are', async () => {
    const dir = copy();
    const file = join(dir, MA, '1.1', 'policy.json');
    editJson<Json>(file, (p) => {
      p.indications[0].children[0].fact = 'tumour-suspected';
      p.indications[0].children[1].fact = 'infektion';
    });
    const r = await start({ POLICY_DIR: dir, RECORD_DATA_DIR: join(dir, '..', 'records') });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`lumbar-mri-cds: not started: policy data: ${file}: indications[0].children[0].fact: node IND.1.1: unknown fact tumour-suspected (and 1 more)\n`);
  }, 90_000);
});
