// Attack: timing side channel — a MAC, digest or token compared with ===, !== or Buffer.equals, which stop at the first differing byte and let an attacker guess it byte by byte.
// No functional test can see such a comparison (it gives the same answers), so this one reads the source.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import ts from "typescript";

const ROOT = new URL("..", import.meta.url).pathname;

/** Calls whose result is a MAC or a keyed digest: comparing one must go through timingSafeEqual*. */
const MAC_PRODUCER = /\b(createHmac|hmacSha256|hmacSha256Hex|keyDigest|deviceMac|sign)\s*\(|\.digest\s*\(/;
/** Names that by convention hold a secret or a MAC to check; a comparison of one with === is a leak. */
const SECRET_NAME =
  /^(expected|candidate|given|sig|signature|signatures|mac|hmac|digest|tag|csrf\w*|\w*(Mac|Hmac|Digest|Signature|Secret|Csrf))$/;

/**
 * Comparisons that look like one of the above but are not secret comparisons, each with its reason.
 * Adding to this list is a review decision: say why timing cannot reveal anything.
 */
const ALLOWED: Record<string, string> = {};

type Finding = { where: string; text: string; why: string };

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") && !e.name.endsWith(".d.ts"))
    .map((e) => join(e.parentPath, e.name));
}

/** Every secret comparison done without timingSafeEqual in one file. */
export function findLeakyComparisons(fileName: string, text: string): Finding[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  // Identifiers bound (const/let, anywhere in the file) to the result of a MAC producer.
  const macBound = new Set<string>();
  const collect = (node: ts.Node): void => {
    if (
      ts.isVariableDeclaration(node) &&
      ts.isIdentifier(node.name) &&
      node.initializer &&
      MAC_PRODUCER.test(node.initializer.getText(source))
    )
      macBound.add(node.name.text);
    ts.forEachChild(node, collect);
  };
  collect(source);
  const findings: Finding[] = [];
  const where = (node: ts.Node) =>
    `${relative(ROOT, fileName)}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`;
  const secretish = (operand: ts.Expression): string | undefined => {
    const text = operand.getText(source);
    if (MAC_PRODUCER.test(text)) return "compares a freshly computed MAC or digest";
    const name = nameOf(operand);
    if (name !== undefined && macBound.has(name)) return `${name} holds a MAC or digest`;
    if (name !== undefined && SECRET_NAME.test(name)) return `${name} is named as a secret or MAC`;
    return undefined;
  };
  const nameOf = (operand: ts.Expression): string | undefined => {
    if (ts.isIdentifier(operand)) return operand.text;
    if (ts.isPropertyAccessExpression(operand)) return operand.name.text;
    if (ts.isNonNullExpression(operand) || ts.isParenthesizedExpression(operand)) return nameOf(operand.expression);
    if (ts.isElementAccessExpression(operand)) {
      const key = operand.argumentExpression;
      // headers["x-csrf-token"], cookies[names.csrf]
      if (ts.isStringLiteral(key)) return /csrf|signature|hmac/i.test(key.text) ? "csrf" : undefined;
      return nameOf(key);
    }
    return undefined;
  };
  const literal = (operand: ts.Expression) =>
    operand.kind === ts.SyntaxKind.NullKeyword ||
    (ts.isIdentifier(operand) && operand.text === "undefined") ||
    ts.isTypeOfExpression(operand) ||
    ts.isNumericLiteral(operand) ||
    (ts.isStringLiteral(operand) && operand.text.length < 8) ||
    (ts.isPropertyAccessExpression(operand) && operand.name.text === "length");
  const visit = (node: ts.Node): void => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === "equals"
    ) {
      findings.push({
        where: where(node),
        text: node.getText(source),
        why: ".equals() compares byte by byte and stops early; use timingSafeEqual*",
      });
    }
    if (
      ts.isBinaryExpression(node) &&
      [
        ts.SyntaxKind.EqualsEqualsEqualsToken,
        ts.SyntaxKind.ExclamationEqualsEqualsToken,
        ts.SyntaxKind.EqualsEqualsToken,
        ts.SyntaxKind.ExclamationEqualsToken,
      ].includes(node.operatorToken.kind)
    ) {
      if (!literal(node.left) && !literal(node.right)) {
        const why = secretish(node.left) ?? secretish(node.right);
        if (why) findings.push({ where: where(node), text: node.getText(source), why });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return findings.filter((f) => !(`${f.where} ${f.text}` in ALLOWED) && !(f.text in ALLOWED));
}

test("secrets, MACs and digests in src/ are compared with timingSafeEqual*, never ===, !== or .equals()", () => {
  const findings = sourceFiles(join(ROOT, "src")).flatMap((file) =>
    findLeakyComparisons(file, readFileSync(file, "utf8")),
  );
  assert.deepEqual(findings, [], findings.map((f) => `${f.where}: ${f.text} (${f.why})`).join("\n"));
});

test("the scan sees the leaks it is meant to catch (each line here is a known mutant)", () => {
  const leaks = [
    "const ok = keyDigest(key).equals(entry.keyHash);",
    "const ok = digestA.equals(digestB);",
    "function anyMatches(expected: string, candidate: string) { return expected === candidate; }",
    "const mac = hmacSha256(k, d).toString('hex'); if (mac !== given) throw 1;",
    "if (parts[3] !== deviceMac(userId, parts[2])) return false;",
    "if (cookies[names.csrf] !== req.headers['x-csrf-token']) throw 1;",
    "const sig = createHmac('sha256', s).update(b).digest('hex'); const ok = sig == header;",
  ];
  for (const line of leaks) assert.notDeepEqual(findLeakyComparisons("probe.ts", line), [], line);
  for (const line of [
    "if (value === undefined) return;",
    "if (parts.length !== 4) return;",
    "if (a.kid === kid) x();",
    "return timingSafeEqualString(given, expected);",
  ]) {
    assert.deepEqual(findLeakyComparisons("probe.ts", line), [], line);
  }
});
