// ESLint for the browser app (make jscheck): the recommended rules plus a few that catch real bugs in
// plain ES modules. Formatting is not linted.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/**", ".venv/**", "build/**", "dist/**"] },
  {
    files: ["ui/static/js/**/*.js"],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser },
    },
    rules: {
      ...js.configs.recommended.rules,
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-unused-vars": ["error", { args: "after-used", caughtErrors: "none", ignoreRestSiblings: true }],
      "no-var": "error",
      "prefer-const": "error",
      "no-implicit-globals": "error",
      "no-use-before-define": ["error", { functions: false, classes: false, variables: false }],
      "no-throw-literal": "error",
      "no-promise-executor-return": "error",
      "no-self-compare": "error",
      "no-template-curly-in-string": "error",
      "no-unmodified-loop-condition": "error",
      "no-unreachable-loop": "error",
    },
  },
  {
    // theme.js runs as a classic script in <head> (before first paint), not as a module.
    files: ["ui/static/js/theme.js"],
    languageOptions: { sourceType: "script" },
  },
];
