/**
 * The esbuild plugins serverless-esbuild runs (serverless.yml, custom.esbuild.plugins).
 *
 * 1. Class names survive minifying, except in the AWS SDK. The service's errors take their `name`
 * from their class (`new.target.name`, lib/errors), and so do jose's, so without this the logs
 * would say `e` where they should say `StoreUnavailableError`. esbuild's `keepNames` option does
 * it for every function and class of the bundle, and the AWS SDK is most of the bundle: that
 * costs each function about 2 ms of its cold start (bench/bundles). The SDK needs none of it (its
 * errors set their names as literals), so this plugin applies keepNames file by file to the rest:
 * our sources and the other packages.
 *
 * Of what keepNames adds it keeps the class names (a `static { __name(this, "X") }` block inside
 * each class) and the names of function expressions (pure calls), and drops the top-level
 * `__name(f, "f");` statements after function declarations: those would keep every declared
 * function alive through tree shaking (in `install`, jose would come in through lib/http), and a
 * function's name in a stack trace is what the source map gives back (README, Deploying).
 *
 * 2. Source maps beside the zips, not in them. A map is 4 times the size of its bundle: in the
 * zip it would make the artifact Lambda fetches and unpacks at cold start about 4 times larger,
 * and nothing reads it there (no --enable-source-maps: Node would parse it at load). Each map
 * the build writes is moved, as soon as the build ends and so before serverless-esbuild zips the
 * build folder, to `<service>/.serverless/source-maps/`, keeping its path under the build folder
 * (`functions/mint.js.map`), so its relative `sources` still name the TypeScript files.
 *
 * 3. The Lambda credential chain in place of the SDK's. Every AWS client's runtime config imports
 * `@aws-sdk/credential-provider-node`, the chain of every way a machine can hold credentials, with
 * the STS and SSO clients it calls: about 125 KiB of each bundle. In Lambda only its first link is
 * used, the environment; lib/runtime/lambda-credentials.ts reads that (or a container endpoint) and
 * is what the bundles get instead, which takes about a quarter off each bundle (bench/bundles).
 *
 * 4. Of each AWS SDK package's package.json, only its version. Each client imports its whole
 * package.json (scripts, dependencies, file lists: 2 to 4 KiB minified) to read `version`, for the
 * user agent, and that is all any SDK module reads of it.
 */
'use strict';

const { mkdir, readFile, rename } = require('node:fs/promises');
const { basename, dirname, extname, join, relative, sep } = require('node:path');
const { transform } = require('esbuild');

/** The AWS SDK's files, left to the build as they are. */
const AWS_SDK = /[\\/]node_modules[\\/](?:@aws-sdk|@smithy)[\\/]/;
/** What esbuild's keepNames writes after a top-level function declaration. */
const FUNCTION_NAME_STATEMENT = /^__name\([\w$]+, "[^"]*"\);\n/gm;

/** @type {import('esbuild').Plugin} */
const keepClassNamesOutsideTheSdk = {
  name: 'keep-class-names-outside-the-aws-sdk',
  setup(build) {
    const { target } = build.initialOptions;
    build.onLoad({ filter: /\.(?:[cm]?js|[cm]?ts)$/ }, async (args) => {
      if (AWS_SDK.test(args.path)) return undefined;
      const source = await readFile(args.path, 'utf8');
      const { code } = await transform(source, {
        loader: /\.[cm]?ts$/.test(args.path) ? 'ts' : 'js',
        keepNames: true,
        target,
        // What tsconfig.json's ES2023 target implies, as the build itself would compile the file.
        tsconfigRaw: { compilerOptions: { useDefineForClassFields: true } },
        // Inline, so the build's own source map still points at the original file.
        sourcemap: 'inline',
        sourcefile: args.path,
      });
      // Blanked, not removed, so the inline source map's lines still match.
      return { contents: code.replace(FUNCTION_NAME_STATEMENT, '\n'), loader: 'js' };
    });
  },
};

/** @type {import('esbuild').Plugin} */
const lambdaCredentialChain = {
  name: 'lambda-credential-chain',
  setup(build) {
    const chain = join(__dirname, '..', '..', 'lib', 'runtime', 'lambda-credentials.ts');
    build.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({ path: chain }));
  },
};

/** An AWS SDK package's own package.json. */
const SDK_PACKAGE_JSON = /[\\/]node_modules[\\/]@aws-sdk[\\/][^\\/]+[\\/]package\.json$/;

/** @type {import('esbuild').Plugin} */
const sdkPackageVersionsOnly = {
  name: 'aws-sdk-package-versions-only',
  setup(build) {
    build.onLoad({ filter: SDK_PACKAGE_JSON }, async (args) => {
      const { version } = JSON.parse(await readFile(args.path, 'utf8'));
      return { contents: JSON.stringify({ version }), loader: 'json' };
    });
  },
};

/** Where the maps of one packaging go, under the service directory. */
const SOURCE_MAPS_DIR = join('.serverless', 'source-maps');

/** @type {import('esbuild').Plugin} */
const sourceMapsBesideTheZips = {
  name: 'source-maps-beside-the-zips',
  setup(build) {
    const { entryPoints, outdir, sourcemap } = build.initialOptions;
    if (!sourcemap || outdir === undefined || !Array.isArray(entryPoints)) return;
    // serverless-esbuild builds each entry on its own into <service>/<workDir>/.build/<entry dir>,
    // the functions of one folder side by side: each build moves only its own entries' maps.
    const buildRoot = outdir.slice(0, outdir.lastIndexOf(`${sep}.build`) + `${sep}.build`.length);
    const serviceDir = dirname(dirname(buildRoot));
    const maps = entryPoints.map((entry) => `${basename(typeof entry === 'string' ? entry : entry.out, extname(typeof entry === 'string' ? entry : entry.out))}.js.map`);
    build.onEnd(async (result) => {
      if (result.errors.length > 0) return;
      for (const name of maps) {
        const target = join(serviceDir, SOURCE_MAPS_DIR, relative(buildRoot, outdir), name);
        await mkdir(dirname(target), { recursive: true });
        await rename(join(outdir, name), target);
      }
    });
  },
};

module.exports = [keepClassNamesOutsideTheSdk, lambdaCredentialChain, sdkPackageVersionsOnly, sourceMapsBesideTheZips];
