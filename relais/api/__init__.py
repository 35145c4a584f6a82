"""The REST API (django-ninja), assembled from each part's router."""
