'use strict';
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

module.exports = tseslint.config(
    { ignores: ['nodes/**', 'node_modules/**', '.kafka/**', '.node-red-user/**'] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        files: ['**/*.js'],
        languageOptions: {
            sourceType: 'commonjs',
            globals: {
                require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly',
                console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
                setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly',
                describe: 'readonly', it: 'readonly', before: 'readonly', after: 'readonly',
                beforeEach: 'readonly', afterEach: 'readonly', exports: 'writable',
            },
        },
        rules: { '@typescript-eslint/no-require-imports': 'off' },
    },
    {
        rules: {
            '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
        },
    },
);
