"""hero_assistance.ui"""
