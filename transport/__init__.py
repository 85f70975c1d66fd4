"""hero_assistance.transport"""
