"""Graph -> Graph passes. A pass never knows which backend will run the graph."""
