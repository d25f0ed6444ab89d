"""From a mail's bytes to plain values: parsing, the quoted history, automatic mail, forwards, web
forms, proof, satisfaction answers, claims and incidents recognised in a mail's own words.
"""
