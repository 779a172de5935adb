"""Tests of deny.py's license expressions and ban matching: `python3 -m unittest discover .ci`."""

import unittest

from deny import check_bans, check_licenses, matches, satisfied

ALLOWED = {"MIT", "Apache-2.0", "ISC", "Apache-2.0 WITH LLVM-exception"}


def package(name, version, license="MIT"):
    return {"id": f"{name} {version}", "name": name, "version": version, "license": license}


class Licenses(unittest.TestCase):
    def test_or_needs_one_side_and_and_needs_both(self):
        self.assertTrue(satisfied("MIT OR GPL-3.0-only", ALLOWED))
        self.assertTrue(satisfied("GPL-3.0-only OR MIT", ALLOWED))
        self.assertFalse(satisfied("MIT AND GPL-3.0-only", ALLOWED))
        self.assertTrue(satisfied("Apache-2.0 AND ISC", ALLOWED))
        self.assertFalse(satisfied("GPL-2.0-only", ALLOWED))

    def test_and_binds_tighter_than_or_and_parentheses_regroup(self):
        self.assertTrue(satisfied("GPL-3.0-only AND BSD-3-Clause OR MIT", ALLOWED))
        self.assertFalse(satisfied("GPL-3.0-only AND (BSD-3-Clause OR MIT)", ALLOWED))
        self.assertTrue(satisfied("(MIT OR Apache-2.0) AND ISC", ALLOWED))

    def test_with_exceptions_and_the_old_slash(self):
        self.assertTrue(satisfied("Apache-2.0 WITH LLVM-exception", ALLOWED))
        self.assertFalse(satisfied("GPL-2.0-only WITH Classpath-exception-2.0", ALLOWED))
        self.assertTrue(satisfied("MIT/Apache-2.0", ALLOWED))
        self.assertFalse(satisfied("GPL-2.0-only/LGPL-2.1-only", ALLOWED))

    def test_a_package_without_an_spdx_license_fails(self):
        failures = check_licenses([package("a", "1.0.0", None), package("b", "1.0.0")], {"allow": ["MIT"]})
        self.assertEqual(len(failures), 1)
        self.assertIn("a 1.0.0", failures[0])


class Bans(unittest.TestCase):
    def test_specs(self):
        self.assertTrue(matches("rand", package("rand", "0.10.4")))
        self.assertTrue(matches("rand:<0.10", package("rand", "0.9.5")))
        self.assertFalse(matches("rand:<0.10", package("rand", "0.10.0")))
        self.assertTrue(matches("rand@0.8.8", package("rand", "0.8.8")))
        self.assertFalse(matches("rand@0.8.8", package("rand_core", "0.8.8")))

    def test_a_banned_version_passes_only_when_every_user_is_a_wrapper(self):
        old = package("rand", "0.9.5")
        config = {"deny": [{"crate": "rand:<0.10", "wrappers": ["tantivy-columnar"]}], "multiple-versions": "allow"}
        failures, _ = check_bans([old], {old["id"]: {"tantivy-columnar"}}, config)
        self.assertEqual(failures, [])
        failures, _ = check_bans([old], {old["id"]: {"tantivy-columnar", "kanect-core"}}, config)
        self.assertEqual(len(failures), 1)

    def test_multiple_versions_warn_or_deny(self):
        packages = [package("syn", "2.0.1"), package("syn", "3.0.0")]
        failures, warnings = check_bans(packages, {}, {"multiple-versions": "warn"})
        self.assertEqual((failures, len(warnings)), ([], 1))
        failures, warnings = check_bans(packages, {}, {"multiple-versions": "deny"})
        self.assertEqual((len(failures), warnings), (1, []))


if __name__ == "__main__":
    unittest.main()
